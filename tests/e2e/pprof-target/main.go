// A pprof target for the end-to-end tests: net/http/pprof on the address given as the only
// argument, plus a little steady work so every profile type has samples.
package main

import (
	"crypto/sha256"
	"log"
	"net/http"
	_ "net/http/pprof"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: pprof-target HOST:PORT")
	}
	go func() {
		buf := make([]byte, 64<<10)
		for {
			for i := 0; i < 50; i++ {
				sum := sha256.Sum256(buf)
				buf[0] = sum[0]
				_ = make([]byte, 4096)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	log.Fatal(http.ListenAndServe(os.Args[1], nil))
}
