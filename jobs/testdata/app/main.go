// Command app is the tiny static HTTP server the jobs integration tests put
// into FROM-scratch images. It answers every request with $MESSAGE on $PORT.
//
// Flags turn it into other test actors: -sleep D sleeps (a build step that
// hangs), -fail prints a line and exits 2 (a failing build step), -probe GETs
// the server (a HEALTHCHECK), -cat F prints a file (what a build step can
// read), -longline N -lines M prints one line of N bytes and then M short
// lines (a build that floods its log). CRASH=1 makes the server print and
// exit 1.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"
)

func main() {
	sleep := flag.Duration("sleep", 0, "sleep this long, then exit 0")
	fail := flag.Bool("fail", false, "print a message and exit 2")
	probe := flag.Bool("probe", false, "GET http://127.0.0.1:$PORT/ and exit 0 on 200")
	printenv := flag.String("printenv", "", "print NAME=$NAME and exit 0 (shows what a build step sees)")
	cat := flag.String("cat", "", "print this file and exit 0 (\"cat: <error>\" when it cannot be read)")
	longLine := flag.Int("longline", 0, "print one line of this many bytes")
	lines := flag.Int("lines", 0, "then print this many short lines, and exit 0")
	flag.Parse()
	if *cat != "" {
		data, err := os.ReadFile(*cat)
		if err != nil {
			fmt.Println("cat:", err)
			return
		}
		fmt.Printf("%s\n", data)
		return
	}
	if *longLine > 0 || *lines > 0 {
		w := bufio.NewWriterSize(os.Stdout, 64<<10)
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for n := *longLine; n > 0; n -= len(chunk) {
			_, _ = w.Write(chunk[:min(n, len(chunk))])
		}
		fmt.Fprintln(w)
		for i := 1; i <= *lines; i++ {
			fmt.Fprintf(w, "line %d\n", i)
		}
		_ = w.Flush()
		return
	}
	if *printenv != "" {
		fmt.Printf("%s=%s\n", *printenv, os.Getenv(*printenv))
		return
	}

	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	switch {
	case *sleep > 0:
		fmt.Println("sleeping", *sleep)
		time.Sleep(*sleep)
		return
	case *fail:
		fmt.Println("build step failed: boom")
		os.Exit(2)
	case *probe:
		resp, err := http.Get("http://127.0.0.1:" + port + "/")
		if err != nil || resp.StatusCode != http.StatusOK {
			os.Exit(1)
		}
		return
	}
	if os.Getenv("CRASH") == "1" {
		for i := 1; i <= 3; i++ {
			fmt.Printf("starting attempt line %d\n", i)
		}
		fmt.Fprintln(os.Stderr, "fatal: crashing on purpose:", os.Getenv("MESSAGE"))
		os.Exit(1)
	}
	fmt.Println("listening on", port)
	// ECHO_REQUEST=1 appends what the server saw, so routing tests can tell
	// a stripped path prefix from a kept one.
	echo := os.Getenv("ECHO_REQUEST") == "1"
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, os.Getenv("MESSAGE"))
		if echo {
			fmt.Fprintf(w, " path=%s auth=%t", r.URL.Path, r.Header.Get("Authorization") != "")
		}
	})
	if err := http.ListenAndServe(":"+port, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
