package broadcast

import (
	"testing"
	"testing/synctest"
)

// TestSignal: a Wait taken before a Fire is woken by it, every waiter at
// once; one taken after waits for the next Fire.
func TestSignal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var s Signal
		s.Fire() // nobody waits: nothing to do
		a, b := s.Wait(), s.Wait()
		select {
		case <-a:
			t.Fatal("woken before any Fire")
		default:
		}
		s.Fire()
		<-a
		<-b
		c := s.Wait()
		woken := false
		go func() { <-c; woken = true }()
		synctest.Wait()
		if woken {
			t.Fatal("a Wait taken after the Fire was woken by it")
		}
		s.Fire()
		synctest.Wait()
		if !woken {
			t.Fatal("not woken by the next Fire")
		}
	})
}
