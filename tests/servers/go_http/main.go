// Command go_http is a Go net/http server or client for the kernel tests (the standard
// library only: no module, no network needed to build it).
//
//	go_http server PORT
//	    Same routes as python_server.py: /hello... 200, /status/N N, /big/N N bytes,
//	    /slow/MS after MS ms, /drop/... closes the connection unanswered, POST answers
//	    with the body's size (POST /slow/MS after MS ms), GET /ws answers 101 and echoes
//	    WebSocket frames (a minimal one: payloads under 126 bytes), anything else 404.
//	    Prints "listening PORT" when ready.
//	go_http client BASE_URL PATH...
//	    Prints "ready", waits for a line on stdin, then GETs each path over one keep-alive
//	    connection (net/http's Transport: a write goroutine and a read goroutine per
//	    connection), printing "STATUS START_NS END_NS" per request (CLOCK_MONOTONIC). An
//	    https:// BASE_URL is fetched with Go's own TLS (crypto/tls, not OpenSSL), trusting
//	    any certificate.
package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

func main() {
	if len(os.Args) >= 3 && os.Args[1] == "server" {
		serve(os.Args[2])
		return
	}
	if len(os.Args) >= 3 && os.Args[1] == "client" {
		request(os.Args[2], os.Args[3:])
		return
	}
	fmt.Fprintln(os.Stderr, "usage: go_http server PORT | go_http client BASE_URL PATH...")
	os.Exit(2)
}

func serve(port string) {
	listener, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("listening", port)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		send := func(status int, body string) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(status)
			io.WriteString(w, body)
		}
		path := r.URL.Path
		switch {
		case r.Method == http.MethodPost:
			n, _ := io.Copy(io.Discard, r.Body)
			if strings.HasPrefix(path, "/slow/") {
				ms, _ := strconv.Atoi(strings.Split(path, "/")[2])
				time.Sleep(time.Duration(ms) * time.Millisecond)
			}
			send(200, fmt.Sprintf("%d\n", n))
		case strings.HasPrefix(path, "/hello"):
			send(200, "hello from go\n")
		case strings.HasPrefix(path, "/status/"):
			status, _ := strconv.Atoi(strings.Split(path, "/")[2])
			send(status, "status\n")
		case strings.HasPrefix(path, "/big/"):
			n, _ := strconv.Atoi(strings.Split(path, "/")[2])
			send(200, strings.Repeat("x", n))
		case strings.HasPrefix(path, "/slow/"):
			ms, _ := strconv.Atoi(strings.Split(path, "/")[2])
			time.Sleep(time.Duration(ms) * time.Millisecond)
			send(200, "slow\n")
		case strings.HasPrefix(path, "/drop/"):
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		case path == "/ws":
			conn, rw, err := w.(http.Hijacker).Hijack()
			if err == nil {
				echoWebSocket(conn, rw)
			}
		default:
			send(404, "not found\n")
		}
	})
	server := &http.Server{Handler: handler, IdleTimeout: time.Minute}
	if err := server.Serve(listener); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// echoWebSocket answers a WebSocket handshake with 101, then echoes text frames (payloads
// under 126 bytes) until a close frame or the end of the connection.
func echoWebSocket(conn net.Conn, rw *bufio.ReadWriter) {
	defer conn.Close()
	rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	if rw.Flush() != nil {
		return
	}
	for {
		header := make([]byte, 2)
		if _, err := io.ReadFull(rw, header); err != nil {
			return
		}
		mask := make([]byte, 4)
		if header[1]&0x80 != 0 {
			if _, err := io.ReadFull(rw, mask); err != nil {
				return
			}
		}
		payload := make([]byte, header[1]&0x7f)
		if _, err := io.ReadFull(rw, payload); err != nil {
			return
		}
		for i := range payload {
			payload[i] ^= mask[i%4]
		}
		if header[0]&0x0f == 8 {
			conn.Write([]byte{0x88, 0})
			return
		}
		conn.Write(append([]byte{0x81, byte(len(payload))}, payload...))
	}
}

// monotonicNs reads CLOCK_MONOTONIC, the clock the spans' timestamps come from.
func monotonicNs() int64 {
	var ts syscall.Timespec
	syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, 1, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

func request(base string, paths []string) {
	fmt.Println("ready")
	bufio.NewReader(os.Stdin).ReadString('\n')
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for _, path := range paths {
		start := monotonicNs()
		response, err := client.Get(base + path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		io.Copy(io.Discard, response.Body)
		response.Body.Close()
		end := monotonicNs()
		fmt.Println(response.StatusCode, start, end)
	}
}
