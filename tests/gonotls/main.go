// gonotls: a Go program that makes no TLS connection (no crypto/tls linked in), for
// the test that gotls refuses it with one line and that discovery skips it without
// one. gonotls [SECONDS]: stays that long before it exits.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

func main() {
	fmt.Println("no TLS here")
	if len(os.Args) > 1 {
		n, _ := strconv.Atoi(os.Args[1])
		time.Sleep(time.Duration(n) * time.Second)
	}
}
