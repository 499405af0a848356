// Command healthwait waits for a dokploy server's first 200 from
// /api/health and prints how many milliseconds passed since a given
// instant (the server's exec, taken by the caller). scripts/bench.sh uses
// it to time start-ups: a bash poll forks a subshell and a sleep per try,
// which on two cores slows the very start it measures and answers only
// to within its 10 ms sleep.
//
//	healthwait -url http://127.0.0.1:PORT/api/health -since UNIX_NANOS [-timeout 60s] [-pid PID]
//
// It polls every 2 ms, each try bounded by a second, and exits 1 if the
// timeout passes or the process -pid names exits first.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"syscall"
	"time"
)

func main() {
	url := flag.String("url", "", "the health URL (127.0.0.1 only)")
	since := flag.Int64("since", 0, "the start instant, Unix nanoseconds")
	timeout := flag.Duration("timeout", time.Minute, "how long to wait at most")
	pid := flag.Int("pid", 0, "give up if this process exits")
	flag.Parse()
	if *url == "" || *since == 0 {
		fmt.Fprintln(os.Stderr, "usage: healthwait -url URL -since UNIX_NANOS [-timeout D] [-pid PID]")
		os.Exit(2)
	}
	start := time.Unix(0, *since)
	if err := wait(*url, *pid, start.Add(*timeout)); err != nil {
		fmt.Fprintln(os.Stderr, "healthwait:", err)
		os.Exit(1)
	}
	fmt.Println(time.Since(start).Milliseconds())
}

// wait polls url until it answers 200, the deadline passes or pid exits.
func wait(url string, pid int, deadline time.Time) error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for {
		res, err := client.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no 200 from %s before the deadline", url)
		}
		if pid > 0 && errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			return fmt.Errorf("process %d exited before answering", pid)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
