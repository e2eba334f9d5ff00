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
	"strings"
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
	versions := flag.String("versions", "6.7.0,7.0.3,8.0.3", "ESXi versions, cycled over the hosts in name order ("+releaseNames()+")")
	ptpHosts := flag.String("ptp-hosts", "", "comma-separated hosts (7.0.3+) that start on PTP")
	disabledHosts := flag.String("disabled-hosts", "", "comma-separated hosts (7.0.3+) that start with time services disabled")
	esxMode := flag.Bool("esx", false, "simulate one standalone ESXi host (govmomi's ESX model) instead of a vCenter")
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
	releases, err := parseVersionList(*versions)
	if err != nil {
		log.Fatal(err)
	}

	started := time.Now()
	var model *simulator.Model
	if *esxMode {
		model = simulator.ESX()
		model.ServiceContent.About.Version = releases[0].Version
		model.ServiceContent.About.ApiVersion = releases[0].APIVersion
		model.ServiceContent.About.Build = releases[0].Build
		model.ServiceContent.About.FullName = fmt.Sprintf("VMware ESXi %s build-%s", releases[0].Version, releases[0].Build)
	} else {
		model = simulator.VPX()
		model.Datacenter = 1
		model.Cluster = *clusters
		model.ClusterHost = *hostsPerCluster
		if *clusters == 0 {
			model.ClusterHost = 0
		}
		model.Host = *standalone
		// the vCenter answers as vSphere 8.0 Update 3, so pyVmomi negotiates API 8.0.3.0
		model.ServiceContent.About.Version = vcenterVersion
		model.ServiceContent.About.ApiVersion = vcenterAPIVersion
		model.ServiceContent.About.Build = vcenterBuild
		model.ServiceContent.About.FullName = fmt.Sprintf("VMware vCenter Server %s build-%s", vcenterVersion, vcenterBuild)
	}
	model.Machine = 0
	model.Autostart = false
	model.Portgroup = 0
	model.Pod = 0
	if err := model.Create(); err != nil {
		log.Fatalf("creating the inventory: %s", err)
	}
	created := time.Now()

	fleet, err := newFleet(fleetOptions{drifted: *drifted, driftSeconds: *driftSeconds, releases: releases,
		ptpHosts: splitList(*ptpHosts), disabledHosts: splitList(*disabledHosts)})
	if err != nil {
		log.Fatal(err)
	}
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
	server.Config.Handler = newFrontend(fleet, server.Config.Handler, model.ServiceContent.About.ApiVersion)

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

func splitList(list string) []string {
	var names []string
	for _, name := range strings.Split(list, ",") {
		if name = strings.TrimSpace(name); name != "" {
			names = append(names, name)
		}
	}
	return names
}
