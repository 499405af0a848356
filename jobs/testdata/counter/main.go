// Command counter is the web service of the compose stack tests: a static
// HTTP server that counts its requests in a Redis-protocol store reached by
// service name ($STORE_ADDR, e.g. store:6379) and answers
// "hits=<n> version=<$VERSION>". It speaks just enough RESP for INCR.
package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		n, err := incr(os.Getenv("STORE_ADDR"), "hits")
		if err != nil {
			http.Error(w, "store: "+err.Error(), http.StatusBadGateway)
			return
		}
		fmt.Fprintf(w, "hits=%s version=%s\n", n, os.Getenv("VERSION"))
	})
	srv := &http.Server{Addr: ":" + port, ReadHeaderTimeout: 5 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// incr sends INCR key and returns the new value.
func incr(addr, key string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(conn, "*2\r\n$4\r\nINCR\r\n$%d\r\n%s\r\n", len(key), key); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, ":") {
		return "", fmt.Errorf("unexpected answer %q", line)
	}
	return line[1:], nil
}
