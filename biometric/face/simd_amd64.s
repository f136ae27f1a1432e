#include "textflag.h"

// func scaleShift512(v *float32, pixels, n int, bias, scaleW, scaleB *float32, relu bool)
//
// For pixels rows of n floats (n a multiple of 16) at v: t = v + bias, then
// t = t * scaleW, then t = t + scaleB, per channel, and with relu t = 0
// where t < 0 (VMAXPS with 0 first: a NaN or -0 stays as it is, as with
// the Go comparison).
TEXT ·scaleShift512(SB), NOSPLIT, $0-49
	MOVQ v+0(FP), DI
	MOVQ pixels+8(FP), CX
	MOVQ n+16(FP), DX
	MOVQ bias+24(FP), R8
	MOVQ scaleW+32(FP), R9
	MOVQ scaleB+40(FP), R10
	MOVBQZX relu+48(FP), R11
	VPXORD Z3, Z3, Z3
	TESTQ CX, CX
	JZ done

pixel:
	XORQ AX, AX

channel:
	VMOVUPS (DI)(AX*4), Z0
	VADDPS  (R8)(AX*4), Z0, Z0
	VMULPS  (R9)(AX*4), Z0, Z0
	VADDPS  (R10)(AX*4), Z0, Z0
	TESTQ   R11, R11
	JZ      store
	VMAXPS  Z0, Z3, Z0

store:
	VMOVUPS Z0, (DI)(AX*4)
	ADDQ    $16, AX
	CMPQ    AX, DX
	JLT     channel
	LEAQ    (DI)(DX*4), DI
	DECQ    CX
	JNZ     pixel

done:
	VZEROUPPER
	RET

// func maxInto512(dst, src *float32, n int)
//
// dst[i] = src[i] if src[i] > dst[i], for n floats (a multiple of 16):
// VMAXPS returns its first source where it is greater, else the second,
// as the Go comparison does (NaN and zeros of either sign alike).
TEXT ·maxInto512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	XORQ AX, AX
	TESTQ CX, CX
	JZ maxdone

maxloop:
	VMOVUPS (SI)(AX*4), Z0
	VMAXPS  (DI)(AX*4), Z0, Z0
	VMOVUPS Z0, (DI)(AX*4)
	ADDQ    $16, AX
	CMPQ    AX, CX
	JLT     maxloop

maxdone:
	VZEROUPPER
	RET
