// Private to this repository's tests, demo and benchmarks.

package main

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

const (
	ntpService = "ntpd"
	ntpRuleset = "ntpClient"
)

var utcZone = types.HostDateTimeSystemTimeZone{Key: "UTC", Name: "UTC", Description: "UTC", GmtOffset: 0}

// hostSim is what the simulator adds to one HostSystem: its clock offset, its faults and
// the objects behind its configManager. host fields are changed under the host's registry
// lock (the PropertyCollector reads them under the same lock); the rest under mu.
type hostSim struct {
	name        string
	host        *simulator.HostSystem
	dateTime    *HostDateTimeSystem
	service     *HostServiceSystem
	firewall    *HostFirewallSystem
	startOffset float64
	release     esxRelease
	// the 7.0.3+ start state: systemClockProtocol and HostDateTimeInfo.enabled
	startProtocol string
	startEnabled  bool

	mu          sync.Mutex
	offset      float64
	faults      map[string]string
	timeEnabled bool

	// callMu serialises the UpdateDateTimeConfig calls of this host, so that pending (the
	// request fields govmomi does not decode, set by the frontend) belongs to the call.
	callMu  sync.Mutex
	pending dateTimeConfigExtra
}

type fleet struct {
	hosts  map[string]*hostSim
	order  []string
	byMoid map[string]*hostSim // host and its date/time and firewall systems
}

// fleetOptions: the start state the launcher asks for.
type fleetOptions struct {
	drifted       int
	driftSeconds  float64
	releases      []esxRelease // cycled over the hosts in name order
	ptpHosts      []string
	disabledHosts []string
}

// newFleet extends every HostSystem of the inventory; one pass, no lookups per host.
func newFleet(opts fleetOptions) (*fleet, error) {
	f := &fleet{hosts: map[string]*hostSim{}, byMoid: map[string]*hostSim{}}
	for _, entity := range simulator.Map.All("HostSystem") {
		host := entity.(*simulator.HostSystem)
		f.hosts[host.Name] = &hostSim{name: host.Name, host: host}
		f.order = append(f.order, host.Name)
	}
	sort.Strings(f.order)
	for i, name := range f.order {
		h := f.hosts[name]
		if i < opts.drifted {
			h.startOffset = opts.driftSeconds
		}
		h.release = opts.releases[i%len(opts.releases)]
		h.startProtocol = "ntp"
		h.startEnabled = true
		attach(h)
		f.byMoid[h.host.Reference().Value] = h
		f.byMoid[h.dateTime.Reference().Value] = h
		f.byMoid[h.firewall.Reference().Value] = h
	}
	for _, name := range opts.ptpHosts {
		h, ok := f.hosts[name]
		if !ok || !h.release.hasTimeProtocol() {
			return nil, fmt.Errorf("-ptp-hosts: %q is not a host on ESXi 7.0.3 or later", name)
		}
		h.startProtocol = "ptp"
	}
	for _, name := range opts.disabledHosts {
		h, ok := f.hosts[name]
		if !ok || !h.release.hasTimeProtocol() {
			return nil, fmt.Errorf("-disabled-hosts: %q is not a host on ESXi 7.0.3 or later", name)
		}
		h.startEnabled = false
	}
	for _, h := range f.hosts {
		h.reset()
	}
	return f, nil
}

func attach(h *hostSim) {
	host := h.host
	h.faults = map[string]string{}
	setProduct(host, h.release)

	// NewHostSystem deep-copies the host config, so its firewall info and service list are
	// this host's own; the firewall system must share that copy, not the package template.
	oldFirewall := simulator.Map.Get(*host.ConfigManager.FirewallSystem).(*simulator.HostFirewallSystem)
	h.firewall = &HostFirewallSystem{HostFirewallSystem: *oldFirewall, sim: h}
	h.firewall.FirewallInfo = host.Config.Firewall
	simulator.Map.Put(h.firewall)

	h.dateTime = &HostDateTimeSystem{sim: h}
	simulator.Map.Put(h.dateTime)
	dateTimeRef := h.dateTime.Reference()
	host.ConfigManager.DateTimeSystem = &dateTimeRef

	h.service = &HostServiceSystem{sim: h}
	simulator.Map.Put(h.service)
	serviceRef := h.service.Reference()
	host.ConfigManager.ServiceSystem = &serviceRef

	if h.release.rulesetFollowsService() {
		// as the recording: on 8.0.2+ the ntpd service lists no ruleset and the ruleset no
		// service; ownership shows as userControllable false
		h.withHost(func() {
			h.setServiceLocked(ntpService, func(s *types.HostService) { s.Ruleset = nil })
			h.changeRulesetLocked(ntpRuleset, func(r *types.HostFirewallRuleset) { r.Service = "" })
		})
	}
}

// setProduct gives the host the product of its ESXi release (config.product and summary).
func setProduct(host *simulator.HostSystem, release esxRelease) {
	product := host.Config.Product
	product.Version = release.Version
	product.ApiVersion = release.APIVersion
	product.Build = release.Build
	product.FullName = fmt.Sprintf("VMware ESXi %s build-%s", release.Version, release.Build)
	product.Name = "VMware ESXi"
	product.LicenseProductVersion = release.Version[:1] + ".0"
	host.Config.Product = product
	summary := product
	host.Summary.Config.Product = &summary
}

// withHost runs f holding the host's registry lock.
func (h *hostSim) withHost(f func()) {
	simulator.Map.WithLock(h.host.Reference(), f)
}

// withSystem runs f holding the lock of one of the host's config managers, then the host's:
// the order SOAP calls take them in (the call holds its object's lock), so no deadlock.
func (h *hostSim) withSystem(system mo.Reference, f func()) {
	simulator.Map.WithLock(system, func() { h.withHost(f) })
}

// reset puts the host back into its start state.
func (h *hostSim) reset() {
	h.mu.Lock()
	h.offset = h.startOffset
	h.faults = map[string]string{}
	h.timeEnabled = h.startEnabled
	h.mu.Unlock()
	h.withSystem(h.dateTime, func() { h.setDateTimeLocked(utcZone, []string{}, h.startProtocol) })
	h.withSystem(h.service, func() {
		h.setServiceLocked(ntpService, func(s *types.HostService) {
			s.Policy = "off"
			s.Running = false
		})
	})
	h.withSystem(h.firewall, func() {
		h.changeRulesetLocked(ntpRuleset, func(ruleset *types.HostFirewallRuleset) {
			ruleset.Enabled = false
			ruleset.AllowedHosts = &types.HostFirewallRulesetIpList{AllIp: true}
		})
	})
	h.withHost(func() { h.host.Runtime.ConnectionState = types.HostSystemConnectionStateConnected })
}

// setDateTimeLocked writes the date/time info both where the HostDateTimeSystem serves it
// and into host.config.dateTimeInfo, which clients read through the host.
// The protocol is kept only on 7.0.3+ hosts (older ones have no systemClockProtocol).
func (h *hostSim) setDateTimeLocked(zone types.HostDateTimeSystemTimeZone, servers []string, protocol string) {
	if !h.release.hasTimeProtocol() {
		protocol = ""
	}
	info := types.HostDateTimeInfo{
		TimeZone:            zone,
		SystemClockProtocol: protocol,
		NtpConfig:           h.ntpConfig(servers),
	}
	h.dateTime.DateTimeInfo = info
	copied := info
	copied.NtpConfig = h.ntpConfig(servers)
	h.host.Config.DateTimeInfo = &copied
}

// ntpConfig: the servers and, on 7.0.3+, the ntp.conf lines ESXi derives from them.
func (h *hostSim) ntpConfig(servers []string) *types.HostNtpConfig {
	config := &types.HostNtpConfig{Server: append([]string(nil), servers...)}
	if h.release.hasTimeProtocol() {
		config.ConfigFile = []string{"restrict default nomodify notrap nopeer noquery", "restrict 127.0.0.1",
			"restrict -6 ::1", "driftfile /etc/ntp.drift", "logconfig +clockstatus +peerstatus +sysstatus +syncstatus"}
		for _, server := range servers {
			config.ConfigFile = append(config.ConfigFile, "server "+server)
		}
	}
	return config
}

func (h *hostSim) protocolLocked() string {
	return h.host.Config.DateTimeInfo.SystemClockProtocol
}

// setServiceLocked changes one service. Responses are serialised after the locks are
// released, so nothing served is changed in place: host.config.service and the service
// system's serviceInfo get fresh copies.
func (h *hostSim) setServiceLocked(key string, change func(*types.HostService)) bool {
	services := append([]types.HostService(nil), h.host.Config.Service.Service...)
	found := false
	for i := range services {
		if services[i].Key == key {
			change(&services[i])
			found = true
		}
	}
	if found {
		h.host.Config.Service = &types.HostServiceInfo{Service: services}
		h.service.ServiceInfo = types.HostServiceInfo{Service: append([]types.HostService(nil), services...)}
	}
	return found
}

// ntpRunningLocked: whether ntpd runs on the host.
func (h *hostSim) ntpRunningLocked() bool {
	for _, svc := range h.host.Config.Service.Service {
		if svc.Key == ntpService {
			return svc.Running
		}
	}
	return false
}

// followServiceLocked: on 8.0.2+ the ntpClient ruleset is open exactly while ntpd runs.
func (h *hostSim) followServiceLocked() {
	if h.release.rulesetFollowsService() {
		running := h.ntpRunningLocked()
		h.setRulesetLocked(ntpRuleset, running)
	}
}

// setRulesetLocked enables or disables one ruleset, copy-on-write like setServiceLocked;
// host.config.firewall and the firewall system's firewallInfo are the same object.
func (h *hostSim) setRulesetLocked(key string, enabled bool) bool {
	return h.changeRulesetLocked(key, func(ruleset *types.HostFirewallRuleset) { ruleset.Enabled = enabled })
}

func (h *hostSim) changeRulesetLocked(key string, change func(*types.HostFirewallRuleset)) bool {
	old := h.host.Config.Firewall
	info := &types.HostFirewallInfo{DefaultPolicy: old.DefaultPolicy,
		Ruleset: append([]types.HostFirewallRuleset(nil), old.Ruleset...)}
	found := false
	for i := range info.Ruleset {
		if info.Ruleset[i].Key == key {
			change(&info.Ruleset[i])
			found = true
		}
	}
	if found {
		h.host.Config.Firewall = info
		h.firewall.FirewallInfo = info
	}
	return found
}

// refuse returns the fault a call must raise, or nil: a host that is not connected, or a
// fault configured for this method.
func (h *hostSim) refuse(method string) *soap.Fault {
	var state types.HostSystemConnectionState
	h.withHost(func() { state = h.host.Runtime.ConnectionState })
	switch state {
	case types.HostSystemConnectionStateDisconnected:
		return simulator.Fault(fmt.Sprintf("host %s is disconnected", h.name), &types.HostNotConnected{})
	case types.HostSystemConnectionStateNotResponding:
		return simulator.Fault(fmt.Sprintf("host %s is not responding", h.name), &types.HostNotReachable{})
	}
	h.mu.Lock()
	name := h.faults[method]
	h.mu.Unlock()
	if name == "" {
		return nil
	}
	fault, _ := faultFor(name)
	return simulator.Fault(fmt.Sprintf("simulated %s on %s for %s", name, h.name, method), fault)
}

// faultFor is the fault a control-API fault name stands for.
func faultFor(name string) (types.BaseMethodFault, bool) {
	switch name {
	case "HostConfigFault":
		return &types.HostConfigFault{}, true
	case "NotFound":
		return &types.NotFound{}, true
	case "InvalidState":
		return &types.InvalidState{}, true
	case "HostNotConnected":
		return &types.HostNotConnected{}, true
	case "RuntimeFault", "SystemError":
		return &types.SystemError{Reason: "simulated"}, true
	}
	return nil, false
}

var faultNames = []string{"HostConfigFault", "NotFound", "InvalidState", "HostNotConnected", "SystemError"}

func (h *hostSim) now() time.Time {
	h.mu.Lock()
	offset := h.offset
	h.mu.Unlock()
	return time.Now().UTC().Add(time.Duration(offset * float64(time.Second)))
}

// HostDateTimeSystem: the registry takes the managed-object type from the struct name.
type HostDateTimeSystem struct {
	mo.HostDateTimeSystem
	sim *hostSim
}

func (s *HostDateTimeSystem) UpdateDateTimeConfig(req *types.UpdateDateTimeConfig) soap.HasFault {
	body := &methods.UpdateDateTimeConfigBody{}
	if fault := s.sim.refuse("UpdateDateTimeConfig"); fault != nil {
		body.Fault_ = fault
		return body
	}
	zone := s.DateTimeInfo.TimeZone
	if req.Config.TimeZone != "" {
		if !strings.EqualFold(req.Config.TimeZone, "UTC") {
			body.Fault_ = simulator.Fault("unknown time zone "+req.Config.TimeZone,
				&types.InvalidArgument{InvalidProperty: "config.timeZone"})
			return body
		}
		zone = utcZone
	}
	servers := []string{}
	if s.DateTimeInfo.NtpConfig != nil {
		servers = s.DateTimeInfo.NtpConfig.Server
	}
	if req.Config.NtpConfig != nil {
		servers = req.Config.NtpConfig.Server
	}
	extra := s.sim.pending
	if extra.Present && !s.sim.release.hasTimeProtocol() {
		// a 6.7 host does not know the 7.0.3 fields: its SOAP parser rejects the request
		body.Fault_ = simulator.Fault(fmt.Sprintf("ESXi %s does not know HostDateTimeConfig.protocol/enabled (vSphere 7.0.3)",
			s.sim.release.Version), &types.InvalidRequest{})
		return body
	}
	protocol := s.DateTimeInfo.SystemClockProtocol
	switch extra.Protocol {
	case "":
	case "ntp", "ptp":
		protocol = extra.Protocol
	default:
		body.Fault_ = simulator.Fault("protocol must be ntp or ptp, not "+extra.Protocol,
			&types.InvalidArgument{InvalidProperty: "config.protocol"})
		return body
	}
	s.sim.withHost(func() { s.sim.setDateTimeLocked(zone, servers, protocol) })
	if extra.Enabled != nil {
		s.sim.mu.Lock()
		s.sim.timeEnabled = *extra.Enabled
		s.sim.mu.Unlock()
	}
	body.Res = &types.UpdateDateTimeConfigResponse{}
	return body
}

func (s *HostDateTimeSystem) QueryDateTime(req *types.QueryDateTime) soap.HasFault {
	body := &methods.QueryDateTimeBody{}
	if fault := s.sim.refuse("QueryDateTime"); fault != nil {
		body.Fault_ = fault
		return body
	}
	body.Res = &types.QueryDateTimeResponse{Returnval: s.sim.now()}
	return body
}

func (s *HostDateTimeSystem) UpdateDateTime(req *types.UpdateDateTime) soap.HasFault {
	body := &methods.UpdateDateTimeBody{}
	if fault := s.sim.refuse("UpdateDateTime"); fault != nil {
		body.Fault_ = fault
		return body
	}
	offset := req.DateTime.Sub(time.Now()).Seconds()
	s.sim.mu.Lock()
	s.sim.offset = offset
	s.sim.mu.Unlock()
	body.Res = &types.UpdateDateTimeResponse{}
	return body
}

func (s *HostDateTimeSystem) RefreshDateTimeSystem(req *types.RefreshDateTimeSystem) soap.HasFault {
	body := &methods.RefreshDateTimeSystemBody{}
	if fault := s.sim.refuse("RefreshDateTimeSystem"); fault != nil {
		body.Fault_ = fault
		return body
	}
	body.Res = &types.RefreshDateTimeSystemResponse{}
	return body
}

func (s *HostDateTimeSystem) QueryAvailableTimeZones(req *types.QueryAvailableTimeZones) soap.HasFault {
	body := &methods.QueryAvailableTimeZonesBody{}
	if fault := s.sim.refuse("QueryAvailableTimeZones"); fault != nil {
		body.Fault_ = fault
		return body
	}
	body.Res = &types.QueryAvailableTimeZonesResponse{Returnval: []types.HostDateTimeSystemTimeZone{utcZone}}
	return body
}

// HostServiceSystem: the registry takes the managed-object type from the struct name.
type HostServiceSystem struct {
	mo.HostServiceSystem
	sim *hostSim
}

func notFound(what string) *soap.Fault {
	return simulator.Fault(what+" not found", &types.NotFound{})
}

func (s *HostServiceSystem) change(method, key string, change func(*types.HostService)) *soap.Fault {
	if fault := s.sim.refuse(method); fault != nil {
		return fault
	}
	found := false
	s.sim.withHost(func() {
		found = s.sim.setServiceLocked(key, change)
		if found && key == ntpService {
			s.sim.followServiceLocked()
		}
	})
	if !found {
		return notFound("service " + key)
	}
	return nil
}

func (s *HostServiceSystem) StartService(req *types.StartService) soap.HasFault {
	body := &methods.StartServiceBody{}
	if body.Fault_ = s.change("StartService", req.Id, func(svc *types.HostService) { svc.Running = true }); body.Fault_ == nil {
		body.Res = &types.StartServiceResponse{}
	}
	return body
}

func (s *HostServiceSystem) StopService(req *types.StopService) soap.HasFault {
	body := &methods.StopServiceBody{}
	if body.Fault_ = s.change("StopService", req.Id, func(svc *types.HostService) { svc.Running = false }); body.Fault_ == nil {
		body.Res = &types.StopServiceResponse{}
	}
	return body
}

func (s *HostServiceSystem) RestartService(req *types.RestartService) soap.HasFault {
	body := &methods.RestartServiceBody{}
	if body.Fault_ = s.change("RestartService", req.Id, func(svc *types.HostService) { svc.Running = true }); body.Fault_ == nil {
		body.Res = &types.RestartServiceResponse{}
	}
	return body
}

func (s *HostServiceSystem) UpdateServicePolicy(req *types.UpdateServicePolicy) soap.HasFault {
	body := &methods.UpdateServicePolicyBody{}
	switch req.Policy {
	case "on", "off", "automatic":
	default:
		body.Fault_ = simulator.Fault("policy must be on, off or automatic",
			&types.InvalidArgument{InvalidProperty: "policy"})
		return body
	}
	if body.Fault_ = s.change("UpdateServicePolicy", req.Id, func(svc *types.HostService) { svc.Policy = req.Policy }); body.Fault_ == nil {
		body.Res = &types.UpdateServicePolicyResponse{}
	}
	return body
}

func (s *HostServiceSystem) RefreshServices(req *types.RefreshServices) soap.HasFault {
	body := &methods.RefreshServicesBody{}
	if body.Fault_ = s.sim.refuse("RefreshServices"); body.Fault_ == nil {
		body.Res = &types.RefreshServicesResponse{}
	}
	return body
}

// HostFirewallSystem replaces govmomi's so that rulesets change under the host's lock and
// a disconnected or faulting host refuses the call.
type HostFirewallSystem struct {
	simulator.HostFirewallSystem
	sim *hostSim
}

func (s *HostFirewallSystem) toggle(method, key string, enabled bool) *soap.Fault {
	if fault := s.sim.refuse(method); fault != nil {
		return fault
	}
	release := s.sim.release
	if key == ntpRuleset && release.rulesetFollowsService() {
		return simulator.Fault(fmt.Sprintf("Ruleset %s is not user controllable: it is owned by service %s "+
			"and follows it (ESXi %s)", ntpRuleset, ntpService, release.Version), &types.HostConfigFault{})
	}
	var fault *soap.Fault
	found := false
	s.sim.withHost(func() {
		if key == ntpRuleset && enabled && release.rulesetOwnedByService() && !s.sim.ntpRunningLocked() {
			fault = simulator.Fault(fmt.Sprintf("Cannot enable ruleset %s: the service %s that owns it is not running",
				ntpRuleset, ntpService), &types.HostConfigFault{})
			found = true
			return
		}
		found = s.sim.setRulesetLocked(key, enabled)
	})
	if fault != nil {
		return fault
	}
	if !found {
		return notFound("ruleset " + key)
	}
	return nil
}

func (s *HostFirewallSystem) EnableRuleset(req *types.EnableRuleset) soap.HasFault {
	body := &methods.EnableRulesetBody{}
	if body.Fault_ = s.toggle("EnableRuleset", req.Id, true); body.Fault_ == nil {
		body.Res = &types.EnableRulesetResponse{}
	}
	return body
}

func (s *HostFirewallSystem) DisableRuleset(req *types.DisableRuleset) soap.HasFault {
	body := &methods.DisableRulesetBody{}
	if body.Fault_ = s.toggle("DisableRuleset", req.Id, false); body.Fault_ == nil {
		body.Res = &types.DisableRulesetResponse{}
	}
	return body
}

// UpdateRuleset sets which hosts a ruleset allows (community.vmware's
// vmware_host_firewall_manager calls it whenever allowed_hosts differs).
func (s *HostFirewallSystem) UpdateRuleset(req *types.UpdateRuleset) soap.HasFault {
	body := &methods.UpdateRulesetBody{}
	if body.Fault_ = s.sim.refuse("UpdateRuleset"); body.Fault_ != nil {
		return body
	}
	allowed := req.Spec.AllowedHosts
	allowed.IpAddress = append([]string(nil), allowed.IpAddress...)
	allowed.IpNetwork = append([]types.HostFirewallRulesetIpNetwork(nil), allowed.IpNetwork...)
	found := false
	s.sim.withHost(func() {
		found = s.sim.changeRulesetLocked(req.Id, func(ruleset *types.HostFirewallRuleset) {
			copied := allowed
			ruleset.AllowedHosts = &copied
		})
	})
	if !found {
		body.Fault_ = notFound("ruleset " + req.Id)
		return body
	}
	body.Res = &types.UpdateRulesetResponse{}
	return body
}

func (s *HostFirewallSystem) RefreshFirewall(req *types.RefreshFirewall) soap.HasFault {
	body := &methods.RefreshFirewallBody{}
	if body.Fault_ = s.sim.refuse("RefreshFirewall"); body.Fault_ == nil {
		body.Res = &types.RefreshFirewallResponse{}
	}
	return body
}
