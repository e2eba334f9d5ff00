// Private to this repository's tests, demo and benchmarks.

package main

// Guests: virtual machines per simulated host, as the launcher describes them in a JSON file
// (-vms-file): name, host, guest OS, power state, boot time and VMware Tools time sync, plus
// the hosts' own boot time. They are registered as VirtualMachine objects in the datacenter's
// vm folder and in their host's vm list, so the PropertyCollector serves them (host -> vm
// traversal or a container view) like any other VM; nothing else about them is simulated.

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

var vmsFile = flag.String("vms-file", "", "JSON file describing the VMs per host (written by the testbed launcher)")

type guestSpec struct {
	Name           string  `json:"name"`
	Host           string  `json:"host"`
	GuestID        string  `json:"guest_id"`
	GuestOS        string  `json:"guest_os"`
	PoweredOn      bool    `json:"powered_on"`
	BootSecondsAgo float64 `json:"boot_seconds_ago"`
	ToolsTimeSync  bool    `json:"tools_time_sync"`
}

type guestsSpec struct {
	HostBootSecondsAgo float64     `json:"host_boot_seconds_ago"`
	VMs                []guestSpec `json:"vms"`
}

func secondsAgo(now time.Time, seconds float64) *time.Time {
	when := now.Add(-time.Duration(seconds * float64(time.Second)))
	return &when
}

// addGuests reads -vms-file (nothing to do without one) and registers its VMs; returns how many.
func addGuests(f *fleet) (int, error) {
	if *vmsFile == "" {
		return 0, nil
	}
	data, err := os.ReadFile(*vmsFile)
	if err != nil {
		return 0, err
	}
	var spec guestsSpec
	if err := json.Unmarshal(data, &spec); err != nil {
		return 0, fmt.Errorf("%s: %s", *vmsFile, err)
	}
	datacenters := simulator.Map.All("Datacenter")
	if len(datacenters) == 0 {
		return 0, fmt.Errorf("no datacenter to put VMs in")
	}
	folder := simulator.Map.Get(datacenters[0].(*simulator.Datacenter).VmFolder).(*simulator.Folder)
	now := time.Now().UTC()
	for _, h := range f.hosts {
		h.withHost(func() { h.host.Runtime.BootTime = secondsAgo(now, spec.HostBootSecondsAgo) })
	}
	for _, g := range spec.VMs {
		h, ok := f.hosts[g.Host]
		if !ok {
			return 0, fmt.Errorf("VM %s: no host named %q", g.Name, g.Host)
		}
		hostRef := h.host.Reference()
		sync := g.ToolsTimeSync
		power := types.VirtualMachinePowerStatePoweredOff
		var boot *time.Time
		if g.PoweredOn {
			power = types.VirtualMachinePowerStatePoweredOn
			boot = secondsAgo(now, g.BootSecondsAgo)
		}
		vm := &simulator.VirtualMachine{}
		vm.Name = g.Name
		vm.Config = &types.VirtualMachineConfigInfo{
			Name:          g.Name,
			GuestId:       g.GuestID,
			GuestFullName: g.GuestOS,
			Tools:         &types.ToolsConfigInfo{SyncTimeWithHost: &sync},
		}
		vm.Runtime = types.VirtualMachineRuntimeInfo{Host: &hostRef, PowerState: power, BootTime: boot,
			ConnectionState: types.VirtualMachineConnectionStateConnected}
		vm.Summary.Runtime = vm.Runtime
		vm.Summary.Config = types.VirtualMachineConfigSummary{Name: g.Name, GuestId: g.GuestID, GuestFullName: g.GuestOS}
		vm.Guest = &types.GuestInfo{GuestId: g.GuestID, GuestFullName: g.GuestOS}
		simulator.Map.PutEntity(folder, vm)
		simulator.Map.AddReference(folder, &folder.ChildEntity, vm.Self)
		simulator.Map.AppendReference(h.host, &h.host.Vm, vm.Self)
	}
	return len(spec.VMs), nil
}
