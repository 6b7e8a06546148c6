// Package ping sends ICMP echo requests (with
// github.com/prometheus-community/pro-bing, over a raw or an unprivileged
// datagram socket) or TCP connection attempts to many targets at once, and
// reports each reply as it comes and ping-style statistics per target (Run).
// Names are resolved through package resolve. TCP is a single probe too
// (TCP), and ParseHostList reads fping-style host lists.
package ping
