// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// Test peer for the xtap end-to-end tests: a Go net/http server (stdlib only)
// that can also act as a client (/fetch). Listens on 127.0.0.1 only.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

func intQuery(r *http.Request, key string, def int) int {
	v, err := strconv.Atoi(r.URL.Query().Get(key))
	if err != nil {
		return def
	}
	return v
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address (loopback only)")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if err != nil || (host != "127.0.0.1" && host != "::1") {
		log.Fatalf("refusing to listen on %q: loopback only", *addr)
	}

	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		ms := intQuery(r, "ms", 100)
		if ms < 0 || ms > 30000 {
			ms = 100
		}
		time.Sleep(time.Duration(ms) * time.Millisecond)
		io.WriteString(w, "slow\n")
	})
	mux.HandleFunc("/status/", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
		if err != nil || code < 200 || code > 599 {
			code = 400
		}
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(code)
		fmt.Fprintf(w, "status %d\n", code)
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		f, _ := w.(http.Flusher)
		w.Header().Set("Content-Type", "text/plain")
		for i := 0; i < 5; i++ {
			fmt.Fprintf(w, "chunk %d\n", i)
			if f != nil {
				f.Flush()
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		n := intQuery(r, "size", 65536)
		if n < 0 || n > 64<<20 {
			n = 65536
		}
		w.Header().Set("Content-Length", strconv.Itoa(n))
		w.Header().Set("Content-Type", "application/octet-stream")
		buf := []byte(strings.Repeat("x", 8192))
		for n > 0 {
			k := n
			if k > len(buf) {
				k = len(buf)
			}
			if _, err := w.Write(buf[:k]); err != nil {
				return
			}
			n -= k
		}
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		// Reading the body makes net/http send "100 Continue" first when
		// the client asked for it.
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "got %d bytes\n", n)
	})
	mux.HandleFunc("/fetch", func(w http.ResponseWriter, r *http.Request) {
		target := r.URL.Query().Get("url")
		u, err := url.Parse(target)
		if err != nil || u.Scheme != "http" ||
			(u.Hostname() != "127.0.0.1" && u.Hostname() != "::1" && u.Hostname() != "localhost") {
			http.Error(w, "url must be http://127.0.0.1...", http.StatusBadRequest)
			return
		}
		// wait=MS: the call starts that much later (requests overlap)
		if ms := intQuery(r, "wait", 0); ms > 0 && ms <= 30000 {
			time.Sleep(time.Duration(ms) * time.Millisecond)
		}
		resp, err := client.Get(target)
		if err != nil {
			http.Error(w, "fetch: "+err.Error(), http.StatusBadGateway)
			return
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		fmt.Fprintf(w, "fetched %d %d\n", resp.StatusCode, n)
	})

	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("goserver listening on %s", *addr)
	log.Fatal(srv.ListenAndServe())
}
