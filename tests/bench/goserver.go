// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// Benchmark peer for tests/bench/run: a stdlib-only net/http server on
// 127.0.0.1. /small answers 128 bytes, /big 64 KiB, both from memory
// (read/write syscalls, no sendfile).
package main

import (
	"bytes"
	"flag"
	"log"
	"net/http"
	"strconv"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()
	small := bytes.Repeat([]byte("s"), 128)
	big := bytes.Repeat([]byte("b"), 64*1024)
	serve := func(body []byte) http.HandlerFunc {
		n := strconv.Itoa(len(body))
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", n)
			w.Write(body)
		}
	}
	http.HandleFunc("/small", serve(small))
	http.HandleFunc("/big", serve(big))
	log.Fatal(http.ListenAndServe(*addr, nil))
}
