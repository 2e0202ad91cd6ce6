// Command tesserapeer appends to a transparency-dev/tessera log on POSIX
// storage the way auditlog/internal/bench appends to Lockbox's: a number of
// concurrent appenders, each adding one leaf at a time and waiting until it
// is sequenced and integrated (tessera fsyncs its files and directories)
// before adding the next. It is the peer figure of the durable-append
// benchmark in docs/benchmarks.md, run alternately with `bench
// -only-append` in the same session.
//
// It is its own module so that tessera and its cloud dependencies never
// enter Lockbox's go.mod: `cd auditlog/internal/tesserapeer && go run .`.
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
)

var (
	dir       = flag.String("dir", filepath.Join(os.TempDir(), "tessera-peer"), "log directory (emptied first)")
	appenders = flag.Int("appenders", 64, "concurrent appenders")
	appends   = flag.Int("appends", 400, "appends per appender and round")
	rounds    = flag.Int("rounds", 3, "rounds (the log keeps growing from round to round)")
	leafBytes = flag.Int("leaf-bytes", 527, "bytes per leaf (527: the mean canonical record of Lockbox's benchmark databases)")
	batchSize = flag.Uint("batch-size", 64, "tessera's batch size (64: a batch flushes once every appender waits)")
	batchAge  = flag.Duration("batch-age", 5*time.Millisecond, "tessera's longest wait before a partial batch flushes")
)

func main() {
	flag.Parse()
	ctx := context.Background()
	if err := os.RemoveAll(*dir); err != nil {
		log.Fatal(err)
	}
	skey, _, err := note.GenerateKey(rand.Reader, "tessera-peer")
	if err != nil {
		log.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		log.Fatal(err)
	}
	driver, err := posix.New(ctx, posix.Config{Path: *dir})
	if err != nil {
		log.Fatal(err)
	}
	opts := tessera.NewAppendOptions().WithCheckpointSigner(signer).
		WithBatching(*batchSize, *batchAge).WithCheckpointInterval(time.Second)
	appender, shutdown, _, err := tessera.NewAppender(ctx, driver, opts)
	if err != nil {
		log.Fatal(err)
	}
	for r := 1; r <= *rounds; r++ {
		n, d, err := round(ctx, appender)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("round %d: %d appends in %.2f s: %.0f appends/s (tessera POSIX, %d appenders, %d-byte leaves)\n",
			r, n, d.Seconds(), float64(n)/d.Seconds(), *appenders, *leafBytes)
	}
	if err := shutdown(ctx); err != nil {
		log.Fatal(err)
	}
}

// round runs every appender to the end and returns the appends made and
// the wall time they took.
func round(ctx context.Context, a *tessera.Appender) (int, time.Duration, error) {
	var wg sync.WaitGroup
	errs := make(chan error, *appenders)
	start := time.Now()
	for g := range *appenders {
		wg.Go(func() {
			leaf := make([]byte, *leafBytes)
			for i := range *appends {
				// A distinct leaf each time, so nothing could be deduplicated.
				copy(leaf, fmt.Sprintf("%08d-%08d-", g, i))
				if _, err := a.Add(ctx, tessera.NewEntry(leaf))(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	d := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return 0, 0, err
	}
	return *appenders * *appends, d, nil
}
