// Command burn is the metrics and alert tests' service: it holds HOLD_MB
// MiB (default 64) it has touched, keeps every CPU it may use busy and
// answers HTTP on $PORT. POST /calm stops the busy loops and POST /burn
// starts them again (the alert test's load stops and comes back). With
// GROW_AFTER=<duration> it then grows its memory until the kernel kills it
// (the OOM test).
package main

import (
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"
)

var (
	held []byte
	calm atomic.Bool
	spun atomic.Int64 // keeps the busy loops from being optimised away
)

func main() {
	mb, err := strconv.Atoi(os.Getenv("HOLD_MB"))
	if err != nil || mb <= 0 {
		mb = 64
	}
	held = make([]byte, mb<<20)
	for i := range held {
		held[i] = byte(i) // touch every page so it is resident
	}
	// One busy loop per GOMAXPROCS thread (the image sets 8), so a shared,
	// loaded host still gives it its CPU limit's worth.
	for range runtime.GOMAXPROCS(0) {
		go func() {
			x := 0
			for {
				if calm.Load() {
					time.Sleep(50 * time.Millisecond)
					continue
				}
				for range 1 << 20 {
					x++
				}
				spun.Store(int64(x))
			}
		}()
	}
	if d, err := time.ParseDuration(os.Getenv("GROW_AFTER")); err == nil {
		go func() {
			time.Sleep(d)
			var more [][]byte
			for {
				b := make([]byte, 8<<20)
				for i := range b {
					b[i] = 1
				}
				more = append(more, b)
				fmt.Printf("holding %d MiB more\n", len(more)*8)
			}
		}()
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	fmt.Printf("burning every CPU, holding %d MiB, listening on %s\n", mb, port)
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "held %d bytes, calm %v\n", len(held), calm.Load())
	})
	http.HandleFunc("POST /calm", func(w http.ResponseWriter, _ *http.Request) {
		calm.Store(true)
		fmt.Println("calm: busy loops paused")
		fmt.Fprintln(w, "calm")
	})
	http.HandleFunc("POST /burn", func(w http.ResponseWriter, _ *http.Request) {
		calm.Store(false)
		fmt.Println("burn: busy loops running")
		fmt.Fprintln(w, "burning")
	})
	if err := http.ListenAndServe(":"+port, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
