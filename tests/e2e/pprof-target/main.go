// A pprof target for the end-to-end tests: net/http/pprof on the address given as the first
// argument, plus a little steady work so every profile type has samples ("idle" as the second
// argument: no work, for the scraper capacity measurement of scripts/measure-scraper).
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
	if len(os.Args) < 2 || len(os.Args) > 3 || (len(os.Args) == 3 && os.Args[2] != "idle") {
		log.Fatal("usage: pprof-target HOST:PORT [idle]")
	}
	idle := len(os.Args) == 3
	go func() {
		if idle {
			return
		}
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
