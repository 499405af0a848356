// Command burn is the metrics test's service: it holds 64 MiB it has
// touched, keeps every CPU busy and answers HTTP on $PORT. With
// GROW_AFTER=<duration> it then grows its memory until the kernel kills it
// (the OOM test).
package main

import (
	"fmt"
	"net/http"
	"os"
	"runtime"
	"time"
)

var held []byte

func main() {
	held = make([]byte, 64<<20)
	for i := range held {
		held[i] = byte(i) // touch every page so it is resident
	}
	// One busy loop per GOMAXPROCS thread (the image sets 8), so a shared,
	// loaded host still gives it at least a CPU's worth.
	for range runtime.GOMAXPROCS(0) {
		go func() {
			x := 0
			for {
				x++
				if x%(1<<30) == 0 {
					runtime.Gosched()
				}
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
	fmt.Println("burning every CPU, holding 64 MiB, listening on " + port)
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintf(w, "held %d bytes\n", len(held)) })
	if err := http.ListenAndServe(":"+port, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
