#include "textflag.h"

// func dwRow(o, x, f *float32, pixels, c, xstride int)
//
// For p < pixels and j < c (c a multiple of 8): o[p*c+j] += x[p*xstride+j]
// * f[j], eight channels per AVX2 fused multiply-add.
TEXT ·dwRow(SB), NOSPLIT, $0-48
	MOVQ o+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ f+16(FP), DX
	MOVQ pixels+24(FP), CX
	MOVQ c+32(FP), R8
	MOVQ xstride+40(FP), R9
	SHLQ $2, R9
	MOVQ R8, R10
	SHLQ $2, R10
	TESTQ CX, CX
	JZ   done

pix:
	XORQ AX, AX

ch:
	VMOVUPS     (SI)(AX*1), Y0
	VMOVUPS     (DX)(AX*1), Y1
	VMOVUPS     (DI)(AX*1), Y2
	VFMADD231PS Y1, Y0, Y2
	VMOVUPS     Y2, (DI)(AX*1)
	ADDQ        $32, AX
	CMPQ        AX, R10
	JLT         ch

	ADDQ R10, DI
	ADDQ R9, SI
	DECQ CX
	JNZ  pix

done:
	VZEROUPPER
	RET

// func addAct(o, a, bias, b, alpha *float32, n, c, mode int)
//
// For i < n (n a multiple of c, c a multiple of 8): t = a[i], then t +=
// bias[i%c] (unless bias is nil), then t += b[i] (unless b is nil), then by
// mode 0 o[i] = t, 1 o[i] = max(t, 0), 2 o[i] = max(t, 0) +
// alpha[i%c]*min(t, 0) (PReLU: alpha*t where t < 0, else t).
TEXT ·addAct(SB), NOSPLIT, $0-64
	MOVQ o+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ bias+16(FP), R13
	MOVQ b+24(FP), DX
	MOVQ alpha+32(FP), R11
	MOVQ n+40(FP), CX
	MOVQ c+48(FP), R8
	MOVQ mode+56(FP), R12
	SHLQ $2, R8
	SHLQ $2, CX
	VXORPS Y7, Y7, Y7
	XORQ BX, BX          // byte offset in o, a, b
	XORQ AX, AX          // byte offset in bias and alpha
	TESTQ CX, CX
	JZ    aadone

aaloop:
	VMOVUPS (SI)(BX*1), Y0
	TESTQ   R13, R13
	JZ      aanobias
	VADDPS  (R13)(AX*1), Y0, Y0

aanobias:
	TESTQ  DX, DX
	JZ     aanob
	VADDPS (DX)(BX*1), Y0, Y0

aanob:
	CMPQ R12, $1
	JLT  aastore
	JEQ  aarelu
	VMINPS      Y7, Y0, Y1
	VMAXPS      Y7, Y0, Y0
	VMOVUPS     (R11)(AX*1), Y2
	VFMADD231PS Y2, Y1, Y0
	JMP         aastore

aarelu:
	VMAXPS Y7, Y0, Y0

aastore:
	VMOVUPS Y0, (DI)(BX*1)
	ADDQ    $32, BX
	ADDQ    $32, AX
	CMPQ    AX, R8
	JLT     aanext
	XORQ    AX, AX

aanext:
	CMPQ BX, CX
	JLT  aaloop

aadone:
	VZEROUPPER
	RET

// func maxRow(o, x *float32, pixels, c, xstride int)
//
// For p < pixels and j < c (c a multiple of 8): o[p*c+j] =
// max(o[p*c+j], x[p*xstride+j]).
TEXT ·maxRow(SB), NOSPLIT, $0-40
	MOVQ o+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ pixels+16(FP), CX
	MOVQ c+24(FP), R8
	MOVQ xstride+32(FP), R9
	SHLQ $2, R9
	SHLQ $2, R8
	TESTQ CX, CX
	JZ   mrdone

mrpix:
	XORQ AX, AX

mrch:
	VMOVUPS (SI)(AX*1), Y0
	VMAXPS  (DI)(AX*1), Y0, Y0
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ    $32, AX
	CMPQ    AX, R8
	JLT     mrch

	ADDQ R8, DI
	ADDQ R9, SI
	DECQ CX
	JNZ  mrpix

mrdone:
	VZEROUPPER
	RET

// func dwRow512(o, x, f *float32, pixels, c, xstride int)
//
// dwRow with AVX-512, sixteen channels per instruction (c a multiple of
// 16): the same fused multiply-add per element, so the same floats.
TEXT ·dwRow512(SB), NOSPLIT, $0-48
	MOVQ o+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ f+16(FP), DX
	MOVQ pixels+24(FP), CX
	MOVQ c+32(FP), R8
	MOVQ xstride+40(FP), R9
	SHLQ $2, R9
	MOVQ R8, R10
	SHLQ $2, R10
	TESTQ CX, CX
	JZ   wdone

wpix:
	XORQ AX, AX

wch:
	VMOVUPS     (SI)(AX*1), Z0
	VMOVUPS     (DX)(AX*1), Z1
	VMOVUPS     (DI)(AX*1), Z2
	VFMADD231PS Z1, Z0, Z2
	VMOVUPS     Z2, (DI)(AX*1)
	ADDQ        $64, AX
	CMPQ        AX, R10
	JLT         wch

	ADDQ R10, DI
	ADDQ R9, SI
	DECQ CX
	JNZ  wpix

wdone:
	VZEROUPPER
	RET
