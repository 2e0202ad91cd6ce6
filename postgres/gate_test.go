package postgres

import (
	"testing"
	"testing/synctest"
)

// TestGate: writers enter up to the bound; a raised bound lets a waiting
// one in, a lowered one holds the next back until enough have left, and
// closing the gate sends the waiting ones home.
func TestGate(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		g := newGate(1)
		if !g.enter() {
			t.Fatal("enter on an open gate with room = false")
		}
		entered := make(chan bool, 2)
		go func() { entered <- g.enter() }()
		synctest.Wait()
		if len(entered) != 0 {
			t.Fatal("a second writer entered a gate bounded at 1")
		}
		if !g.setLimit(2) {
			t.Error("setLimit(2) on a gate at 1 reported no change")
		}
		synctest.Wait()
		if len(entered) != 1 || !<-entered {
			t.Fatal("raising the bound to 2 did not let the waiting writer in")
		}
		g.setLimit(1)
		g.leave() // one of two left: still at the bound
		go func() { entered <- g.enter() }()
		synctest.Wait()
		if len(entered) != 0 {
			t.Fatal("a writer entered while the lowered bound was reached")
		}
		g.leave()
		synctest.Wait()
		if len(entered) != 1 || !<-entered {
			t.Fatal("a writer did not enter once the bound had room")
		}
		go func() { entered <- g.enter() }()
		synctest.Wait()
		g.close()
		synctest.Wait()
		if len(entered) != 1 || <-entered {
			t.Fatal("closing the gate did not turn the waiting writer away")
		}
		if g.setLimit(1) {
			t.Error("setLimit to the bound it has reported a change")
		}
	})
}
