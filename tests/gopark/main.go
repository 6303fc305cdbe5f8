// gopark: a hostile local user's Go program that parks as many TLS reads as it can: N
// connections to its own TLS server on loopback, every client and every server
// goroutine blocked in tls.(*Conn).Read (nobody ever writes), 2N parked calls in all.
// Prints "parked 2N" once every handshake is done, then holds them until killed.
// usage: gopark N
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"os"
	"strconv"
	"sync"
	"time"
)

func selfSigned() tls.Certificate {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func park(c *tls.Conn, done *sync.WaitGroup) {
	if err := c.Handshake(); err != nil {
		fmt.Fprintln(os.Stderr, "gopark: handshake:", err)
		os.Exit(1)
	}
	done.Done()
	buf := make([]byte, 1)
	c.Read(buf) // blocks: the peer never writes
}

func main() {
	n, err := strconv.Atoi(os.Args[1])
	if err != nil {
		panic(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{selfSigned()}})
	if err != nil {
		panic(err)
	}
	var done sync.WaitGroup
	done.Add(2 * n)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				panic(err)
			}
			go park(c.(*tls.Conn), &done)
		}
	}()
	for i := 0; i < n; i++ {
		c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			fmt.Fprintln(os.Stderr, "gopark: dial:", err)
			os.Exit(1)
		}
		go park(c, &done)
	}
	done.Wait()
	fmt.Printf("parked %d\n", 2*n)
	select {}
}
