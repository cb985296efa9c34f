// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

// An HTTPS server and client on Go's standard library (crypto/tls), HTTP/1.1
// only (HTTP/2 is turned off on both sides).
//
//	gotls -addr 127.0.0.1:PORT -cert CERT -key KEY    serve:
//	  /ok            200 "ok\n"
//	  /status/N      status N, body "status N\n"
//	  /slow?ms=N     200 "slow\n" after N ms
//	  /fetch?url=U   GET U (trusting CERT, a new connection), 200 "fetched <status> <bytes>\n"
//	gotls -get URL -ca CERT                            one GET, prints "<status> <bytes>"
package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

func client(caFile string) *http.Client {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		log.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		log.Fatalf("%s: no certificate", caFile)
	}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: pool},
			TLSNextProto:      map[string]func(string, *tls.Conn) http.RoundTripper{},
			DisableKeepAlives: true,
		},
	}
}

func get(c *http.Client, url string) (int, int, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, len(body), err
}

func main() {
	addr := flag.String("addr", "", "listen address")
	cert := flag.String("cert", "", "certificate (PEM)")
	key := flag.String("key", "", "private key (PEM)")
	getURL := flag.String("get", "", "GET this URL and exit")
	ca := flag.String("ca", "", "certificate to trust (PEM)")
	flag.Parse()

	if *getURL != "" {
		status, n, err := get(client(*ca), *getURL)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%d %d\n", status, n)
		return
	}

	c := client(*cert)
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/status/", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
		if err != nil || code < 100 || code > 999 {
			code = 400
		}
		w.WriteHeader(code)
		fmt.Fprintf(w, "status %d\n", code)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		time.Sleep(time.Duration(ms) * time.Millisecond)
		io.WriteString(w, "slow\n")
	})
	mux.HandleFunc("/fetch", func(w http.ResponseWriter, r *http.Request) {
		status, n, err := get(c, r.URL.Query().Get("url"))
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprintf(w, "error %v\n", err)
			return
		}
		fmt.Fprintf(w, "fetched %d %d\n", status, n)
	})
	srv := &http.Server{
		Addr:         *addr,
		Handler:      mux,
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	log.Fatal(srv.ListenAndServeTLS(*cert, *key))
}
