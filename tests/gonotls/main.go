// gonotls: a Go program that makes no TLS connection (no crypto/tls linked in), for
// the test that gotls refuses it with one line.
package main

import "fmt"

func main() { fmt.Println("no TLS here") }
