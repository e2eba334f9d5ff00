// Private to this repository's tests, demo and benchmarks.
//
// vcsim: govmomi's vCenter simulator extended with what ESXi time remediation needs:
// a HostDateTimeSystem and a HostServiceSystem per host, per-host firewall rulesets,
// per-host clock offsets, fault hooks, a request counter and a JSON control API under
// /fleetfix/ (see README.md).
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"syscall"
	"time"

	"github.com/vmware/govmomi/simulator"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18443", "address:port to serve HTTPS on")
	clusters := flag.Int("clusters", 2, "number of clusters in datacenter DC0")
	hostsPerCluster := flag.Int("hosts-per-cluster", 3, "hosts in each cluster")
	standalone := flag.Int("standalone-hosts", 1, "standalone hosts in DC0")
	drifted := flag.Int("drifted", 1, "how many hosts (in name order) start with a clock offset")
	driftSeconds := flag.Float64("drift-seconds", 600, "the clock offset of drifted hosts, in seconds")
	username := flag.String("username", "administrator@vsphere.local", "the one user that may log in")
	password := flag.String("password", "", "that user's password (or $VCSIM_PASSWORD)")
	plainHTTP := flag.Bool("http", false, "serve plain HTTP instead of HTTPS")
	flag.Parse()

	if *password == "" {
		*password = os.Getenv("VCSIM_PASSWORD")
	}
	if *password == "" {
		log.Fatal("no password: give -password or set VCSIM_PASSWORD")
	}
	if *clusters < 0 || *hostsPerCluster < 0 || *standalone < 0 || *drifted < 0 {
		log.Fatal("counts must not be negative")
	}

	started := time.Now()
	model := simulator.VPX()
	model.Datacenter = 1
	model.Cluster = *clusters
	model.ClusterHost = *hostsPerCluster
	if *clusters == 0 {
		model.ClusterHost = 0
	}
	model.Host = *standalone
	model.Machine = 0
	model.Autostart = false
	model.Portgroup = 0
	model.Pod = 0
	if err := model.Create(); err != nil {
		log.Fatalf("creating the inventory: %s", err)
	}
	created := time.Now()

	fleet := newFleet(*drifted, *driftSeconds)
	if _, err := addGuests(fleet); err != nil {
		log.Fatalf("adding the VMs: %s", err)
	}
	extended := time.Now()

	model.Service.Listen = &url.URL{Host: *listen, User: url.UserPassword(*username, *password)}
	if !*plainHTTP {
		model.Service.TLS = new(tls.Config)
	}
	server := model.Service.NewServer()
	// Wrap the simulator's handler before anyone is told the address: count SOAP requests
	// and answer the control API.
	server.Config.Handler = newFrontend(fleet, server.Config.Handler)

	names := make([]string, 0, len(fleet.hosts))
	for name := range fleet.hosts {
		names = append(names, name)
	}
	sort.Strings(names)
	log.Printf("inventory of %d hosts created in %.2f s, extended in %.2f s",
		len(names), created.Sub(started).Seconds(), extended.Sub(created).Seconds())
	// The launcher waits for this line.
	fmt.Printf("vcsim ready on %s (%d hosts)\n", server.URL.Host, len(names))
	os.Stdout.Sync()

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	server.Close()
	model.Remove()
}
