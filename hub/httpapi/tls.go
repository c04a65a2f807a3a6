package httpapi

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// DevCertFiles are the files DevCert writes.
type DevCertFiles struct {
	CA   string // the local CA certificate: give it to clients (ness --ca, curl --cacert)
	Cert string // the server certificate (NESS_HUB_TLS_CERT)
	Key  string // its private key, mode 0600 (NESS_HUB_TLS_KEY)
}

// DevCert makes a local CA and a server certificate signed by it for localhost, 127.0.0.1, ::1
// and hosts, valid from now for a year (the CA for ten), and writes them as PEM files into dir.
func DevCert(dir string, hosts []string, now time.Time) (DevCertFiles, error) {
	f := DevCertFiles{CA: filepath.Join(dir, "dev-ca.pem"), Cert: filepath.Join(dir, "dev-cert.pem"), Key: filepath.Join(dir, "dev-key.pem")}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return f, fmt.Errorf("dev-cert: %w", err)
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return f, fmt.Errorf("dev-cert: %w", err)
	}
	serial := func() *big.Int { n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127)); return n }
	ca := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: "ness-hub local development CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0), IsCA: true, BasicConstraintsValid: true,
		MaxPathLenZero: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return f, fmt.Errorf("dev-cert: CA: %w", err)
	}
	ca, _ = x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return f, fmt.Errorf("dev-cert: %w", err)
	}
	leaf := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: "ness-hub"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			leaf.IPAddresses = append(leaf.IPAddresses, ip)
		} else if h != "" {
			leaf.DNSNames = append(leaf.DNSNames, h)
		}
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		return f, fmt.Errorf("dev-cert: certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return f, fmt.Errorf("dev-cert: %w", err)
	}
	for _, w := range []struct {
		path, kind string
		der        []byte
		mode       os.FileMode
	}{{f.CA, "CERTIFICATE", caDER, 0o644}, {f.Cert, "CERTIFICATE", leafDER, 0o644}, {f.Key, "PRIVATE KEY", keyDER, 0o600}} {
		b := pem.EncodeToMemory(&pem.Block{Type: w.kind, Bytes: w.der})
		if err := os.WriteFile(w.path, b, w.mode); err != nil {
			return f, fmt.Errorf("dev-cert: %w", err)
		}
	}
	return f, nil
}

// CheckPlainHTTP refuses plain HTTP on addr unless addr is a loopback address or allow is set:
// bearer tokens and sign-ins must not cross a network in the clear.
func CheckPlainHTTP(addr string, allow bool) error {
	if allow {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("NESS_HUB_HTTP_ADDR %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("NESS_HUB_HTTP_ADDR %s is not a loopback address and no TLS is configured: set NESS_HUB_TLS_CERT "+
		"and NESS_HUB_TLS_KEY (`ness-hub dev-cert` makes a local pair), or NESS_HUB_ALLOW_PLAIN_HTTP=1 when a TLS proxy "+
		"terminates in front of the hub", addr)
}
