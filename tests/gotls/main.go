// gotls: the Go HTTPS server and clients the capture tests run under the probes.
// Built by the tests with Debian's golang-go, once normally and once stripped.
//
//	gotls server ADDR CERT KEY          HTTPS (HTTP/1.1 and h2); prints "ready PORT"
//	gotls get URL [h2]                  GET, prints the body
//	gotls post URL BYTES SEED           POST a generated body, prints the answer
//	gotls bigget URL BYTES SEED         GET /big, checks the generated body
//	gotls writes HOST:PORT COUNT SIZE   COUNT separate tls.Conn writes of SIZE bytes (timed on stderr)
//	gotls parallel URL N                N goroutines, one connection each, GET URL/par/I
//	gotls loop URL N                    N requests over keep-alive connections
//
// Bodies are byte i = i*31 + i/251 + seed (mod 256), checked by check_capture.py.
package main

import (
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

func body(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + i/251 + seed)
	}
	return b
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bad number:", s)
		os.Exit(2)
	}
	return n
}

func client(h2 bool) *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
		ForceAttemptHTTP2: h2,
	}}
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "gotls:", err)
		os.Exit(1)
	}
}

func get(c *http.Client, url string) []byte {
	r, err := c.Get(url)
	must(err)
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	must(err)
	return b
}

func serve(addr, cert, key string) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			h := sha256.New()
			n, _ := io.Copy(h, r.Body)
			fmt.Fprintf(w, "got %d sha256 %x\n", n, h.Sum(nil))
			return
		}
		if strings.HasPrefix(r.URL.Path, "/big/") {
			parts := strings.Split(r.URL.Path, "/")
			b := body(atoi(parts[2]), atoi(parts[3]))
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			w.Write(b)
			return
		}
		fmt.Fprintf(w, "hello %s\n", r.URL.Path)
	})
	ln, err := net.Listen("tcp", addr)
	must(err)
	fmt.Printf("ready %d\n", ln.Addr().(*net.TCPAddr).Port)
	must(http.ServeTLS(ln, mux, cert, key))
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: gotls server|get|post|bigget|writes|parallel|loop ...")
		os.Exit(2)
	}
	a := os.Args[2:]
	switch os.Args[1] {
	case "server":
		serve(a[0], a[1], a[2])
	case "get":
		os.Stdout.Write(get(client(len(a) > 1 && a[1] == "h2"), a[0]))
	case "post":
		r, err := client(false).Post(a[0], "application/octet-stream", strings.NewReader(string(body(atoi(a[1]), atoi(a[2])))))
		must(err)
		b, err := io.ReadAll(r.Body)
		must(err)
		os.Stdout.Write(b)
	case "bigget":
		n, seed := atoi(a[1]), atoi(a[2])
		b := get(client(false), fmt.Sprintf("%s/big/%d/%d", a[0], n, seed))
		if string(b) != string(body(n, seed)) {
			fmt.Fprintln(os.Stderr, "gotls: body differs")
			os.Exit(1)
		}
		fmt.Printf("got %d\n", len(b))
	case "writes":
		count, size := atoi(a[1]), atoi(a[2])
		c, err := tls.Dial("tcp", a[0], &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
		must(err)
		fmt.Fprintf(c, "POST /many HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", a[0], count*size)
		chunk := []byte(strings.Repeat("w", size))
		t0 := time.Now()
		for i := 0; i < count; i++ {
			_, err := c.Write(chunk)
			must(err)
		}
		took := time.Since(t0)
		b, _ := io.ReadAll(c)
		os.Stdout.Write(b)
		fmt.Fprintf(os.Stderr, "writes %d in %.3f s: %.2f us per write\n", count, took.Seconds(), took.Seconds()*1e6/float64(count))
	case "parallel":
		n := atoi(a[1])
		var wg sync.WaitGroup
		fails := 0
		var mu sync.Mutex
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				c := &http.Client{Transport: &http.Transport{
					TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
					DisableKeepAlives: true,
				}}
				want := fmt.Sprintf("hello /par/%d\n", i)
				r, err := c.Get(fmt.Sprintf("%s/par/%d", a[0], i))
				if err == nil {
					b, _ := io.ReadAll(r.Body)
					r.Body.Close()
					if string(b) == want {
						return
					}
				}
				mu.Lock()
				fails++
				mu.Unlock()
			}(i)
		}
		wg.Wait()
		fmt.Printf("parallel %d failed %d\n", n, fails)
		if fails > 0 {
			os.Exit(1)
		}
	case "loop":
		c := client(false)
		n := atoi(a[1])
		for i := 0; i < n; i++ {
			if string(get(c, fmt.Sprintf("%s/loop/%d", a[0], i))) != fmt.Sprintf("hello /loop/%d\n", i) {
				fmt.Fprintln(os.Stderr, "gotls: wrong answer")
				os.Exit(1)
			}
		}
		fmt.Printf("loop %d ok\n", n)
	default:
		fmt.Fprintln(os.Stderr, "gotls: unknown mode", os.Args[1])
		os.Exit(2)
	}
}
