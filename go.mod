module github.com/ness-network/ness-sms

go 1.26.0

require (
	github.com/creack/pty v1.1.24 // indirect
	github.com/eclipse/paho.mqtt.golang v1.5.1 // indirect
	github.com/gorilla/websocket v1.5.3 // indirect
	github.com/kelseyhightower/envconfig v1.4.0 // indirect
	github.com/prometheus/client_golang v1.23.2 // indirect
	github.com/warthog618/go-gpiocdev v0.9.1 // indirect
	github.com/warthog618/modem v0.4.0 // indirect
	github.com/warthog618/sms v0.3.0 // indirect
	go.bug.st/serial v1.8.0 // indirect
	go.etcd.io/bbolt v1.4.3 // indirect
	golang.org/x/crypto v0.59.0 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/sync v0.17.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
