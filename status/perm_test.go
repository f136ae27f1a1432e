package status

import "testing"

func TestPermIsBijection(t *testing.T) {
	for _, size := range []int{1, 2, 3, 64, 1000, 4097} {
		p, err := newPerm([]byte("0123456789abcdef"), size)
		if err != nil {
			t.Fatal(err)
		}
		seen := make([]bool, size)
		fixed := 0
		for n := 0; n < size; n++ {
			x := p.Forward(uint64(n))
			if x >= uint64(size) {
				t.Fatalf("size %d: Forward(%d) = %d out of range", size, n, x)
			}
			if seen[x] {
				t.Fatalf("size %d: %d hit twice", size, x)
			}
			seen[x] = true
			if p.Inverse(x) != uint64(n) {
				t.Fatalf("size %d: Inverse(Forward(%d)) = %d", size, n, p.Inverse(x))
			}
			if x == uint64(n) {
				fixed++
			}
		}
		if size >= 1000 && fixed > size/50 {
			t.Fatalf("size %d: %d fixed points, not a scrambling permutation", size, fixed)
		}
	}
	if _, err := newPerm([]byte("short"), 10); err == nil {
		t.Fatal("short key accepted")
	}
}

func TestPermDependsOnKey(t *testing.T) {
	a, _ := newPerm([]byte("0123456789abcdef"), 1<<20)
	b, _ := newPerm([]byte("0123456789abcdeg"), 1<<20)
	same := 0
	for n := uint64(0); n < 100; n++ {
		if a.Forward(n) == b.Forward(n) {
			same++
		}
	}
	if same > 2 {
		t.Fatalf("%d of 100 indexes equal under two keys", same)
	}
}
