// Private to this repository's tests, demo and benchmarks.

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"

	"github.com/vmware/govmomi/vim25/types"
)

const controlPrefix = "/fleetfix/"

// The first element inside the SOAP Body names the method.
var soapMethod = regexp.MustCompile(`<(?:[A-Za-z0-9_]+:)?Body[^>]*>\s*<(?:[A-Za-z0-9_]+:)?([A-Za-z0-9_]+)`)

type frontend struct {
	fleet      *fleet
	next       http.Handler
	apiVersion string

	mu       sync.Mutex
	requests int64
	byMethod map[string]int64
	// dieOn: the simulator exits in the middle of answering the first SOAP request whose
	// body contains this text (a vCenter killed during a read); empty: never
	dieOn string
}

func newFrontend(f *fleet, next http.Handler, apiVersion string) *frontend {
	return &frontend{fleet: f, next: next, apiVersion: apiVersion, byMethod: map[string]int64{}}
}

// serveVersions answers the version discovery of SOAP clients as vCenter 8.0 does:
// /sdk/vimServiceVersions.xml (pyVmomi) and /sdk/vimService.wsdl (older clients).
func (fe *frontend) serveVersions(w http.ResponseWriter, r *http.Request) bool {
	switch r.URL.Path {
	case "/sdk/vimServiceVersions.xml":
		var prior strings.Builder
		for _, version := range priorAPIVersions {
			if atLeast(fe.apiVersion, version) && version != fe.apiVersion {
				prior.WriteString("   <version>" + version + "</version>\n")
			}
		}
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<namespaces version=\"1.0\">\n <namespace>\n"+
			"  <name>urn:vim25</name>\n  <version>%s</version>\n  <priorVersions>\n%s  </priorVersions>\n"+
			" </namespace>\n</namespaces>\n", fe.apiVersion, prior.String())
		return true
	case "/sdk/vimService.wsdl":
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<!-- Copyright VMware, Inc. All rights reserved. -->\n"+
			"<!-- VMODL Version %s -->\n<definitions targetNamespace=\"urn:vim25Service\"\n"+
			"   xmlns=\"http://schemas.xmlsoap.org/wsdl/\"\n   xmlns:soap=\"http://schemas.xmlsoap.org/wsdl/soap/\"\n"+
			"   xmlns:interface=\"urn:vim25\"\n>\n   <import location=\"vim.wsdl\" namespace=\"urn:vim25\" />\n"+
			"   <service name=\"VimService\">\n      <port binding=\"interface:VimBinding\" name=\"VimPort\">\n"+
			"         <soap:address location=\"https://localhost/sdk\" />\n      </port>\n   </service>\n</definitions>\n",
			fe.apiVersion)
		return true
	}
	return false
}

func (fe *frontend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, controlPrefix) {
		fe.control(w, r)
		return
	}
	if fe.serveVersions(w, r) {
		fe.mu.Lock()
		fe.requests++
		fe.mu.Unlock()
		return
	}
	method := ""
	var body []byte
	if r.Method == http.MethodPost && r.Body != nil {
		var err error
		body, err = io.ReadAll(r.Body)
		_ = r.Body.Close()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if m := soapMethod.FindSubmatch(body); m != nil {
			method = string(m[1])
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	fe.mu.Lock()
	fe.requests++
	if method != "" {
		fe.byMethod[method]++
	}
	fe.mu.Unlock()
	fe.mu.Lock()
	dieOn := fe.dieOn
	fe.mu.Unlock()
	if dieOn != "" && bytes.Contains(body, []byte(dieOn)) {
		fe.dieMidAnswer(w, r)
		return
	}
	switch method {
	case "UpdateDateTimeConfig":
		if h := fe.fleet.byMoid[requestThis(body)]; h != nil {
			h.callMu.Lock()
			defer h.callMu.Unlock()
			h.pending = parseDateTimeConfigExtra(body)
			defer func() { h.pending = dateTimeConfigExtra{} }()
		}
	case "RetrievePropertiesEx", "ContinueRetrievePropertiesEx", "RetrieveProperties", "RetrieveContents", "WaitForUpdatesEx", "Fetch",
		"WaitForUpdates", "CheckForUpdates":
		recorder := &bufferedResponse{header: w.Header(), status: http.StatusOK}
		fe.next.ServeHTTP(recorder, r)
		var fetched *hostSim
		if method == "Fetch" {
			fetched = fe.fleet.byMoid[requestThis(body)]
		}
		out := fe.fleet.rewriteResponse(recorder.body.Bytes(), fetched)
		w.Header().Del("Content-Length")
		w.WriteHeader(recorder.status)
		_, _ = w.Write(out)
		return
	}
	fe.next.ServeHTTP(w, r)
}

// dieMidAnswer sends the first half of the answer, then ends the process as kill -9 would
// (no clean shutdown, the connection drops mid-body).
func (fe *frontend) dieMidAnswer(w http.ResponseWriter, r *http.Request) {
	recorder := &bufferedResponse{header: w.Header(), status: http.StatusOK}
	fe.next.ServeHTTP(recorder, r)
	out := recorder.body.Bytes()
	w.Header().Set("Content-Length", fmt.Sprint(len(out)))
	w.WriteHeader(recorder.status)
	_, _ = w.Write(out[:len(out)/2])
	if flusher, ok := w.(http.Flusher); ok {
		flusher.Flush()
	}
	log.Printf("dying in the middle of an answer, as asked by the control API (die_on %q)", fe.dieOn)
	os.Exit(3)
}

// bufferedResponse keeps a whole response so that rewriteResponse can add fields to it.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header         { return b.header }
func (b *bufferedResponse) WriteHeader(status int)      { b.status = status }
func (b *bufferedResponse) Write(p []byte) (int, error) { return b.body.Write(p) }

// hostState is the control API's view of one host.
type hostState struct {
	Name            string            `json:"name"`
	NtpServers      []string          `json:"ntp_servers"`
	ServicePolicy   string            `json:"service_policy"`
	ServiceRunning  bool              `json:"service_running"`
	FirewallEnabled bool              `json:"firewall_enabled"`
	ClockOffset     float64           `json:"clock_offset_seconds"`
	ConnectionState string            `json:"connection_state"`
	Faults          map[string]string `json:"faults"`
	TimeZone        string            `json:"time_zone"`
	// ESXi release and the fields of 7.0.3 and 8.0.2
	Version            string   `json:"version"`
	APIVersion         string   `json:"api_version"`
	Protocol           *string  `json:"protocol"`
	TimeEnabled        *bool    `json:"time_services_enabled"`
	FirewallControlled bool     `json:"firewall_user_controllable"`
	FirewallAllIP      bool     `json:"firewall_all_ip"`
	FirewallAllowedIPs []string `json:"firewall_allowed_ips"`
}

// hostChange is a POST body: every field optional.
type hostChange struct {
	NtpServers      *[]string          `json:"ntp_servers"`
	ServicePolicy   *string            `json:"service_policy"`
	ServiceRunning  *bool              `json:"service_running"`
	FirewallEnabled *bool              `json:"firewall_enabled"`
	ClockOffset     *float64           `json:"clock_offset_seconds"`
	ConnectionState *string            `json:"connection_state"`
	Faults          map[string]*string `json:"faults"`
	Protocol        *string            `json:"protocol"`
	TimeEnabled     *bool              `json:"time_services_enabled"`
}

func (h *hostSim) state() hostState {
	st := hostState{Name: h.name, NtpServers: []string{}, Faults: map[string]string{}}
	h.withHost(func() {
		if info := h.host.Config.DateTimeInfo; info != nil {
			st.TimeZone = info.TimeZone.Key
			if info.NtpConfig != nil {
				st.NtpServers = append(st.NtpServers, info.NtpConfig.Server...)
			}
		}
		for _, svc := range h.host.Config.Service.Service {
			if svc.Key == ntpService {
				st.ServicePolicy = svc.Policy
				st.ServiceRunning = svc.Running
			}
		}
		for _, rs := range h.host.Config.Firewall.Ruleset {
			if rs.Key == ntpRuleset {
				st.FirewallEnabled = rs.Enabled
				st.FirewallAllIP = rs.AllowedHosts == nil || rs.AllowedHosts.AllIp
				st.FirewallAllowedIPs = []string{}
				if rs.AllowedHosts != nil {
					st.FirewallAllowedIPs = append(st.FirewallAllowedIPs, rs.AllowedHosts.IpAddress...)
				}
			}
		}
		if h.release.hasTimeProtocol() {
			protocol := h.protocolLocked()
			st.Protocol = &protocol
		}
		st.ConnectionState = string(h.host.Runtime.ConnectionState)
	})
	h.mu.Lock()
	st.ClockOffset = h.offset
	st.Version = h.release.Version
	st.APIVersion = h.release.APIVersion
	st.FirewallControlled = !h.release.rulesetFollowsService()
	if h.release.hasTimeProtocol() {
		enabled := h.timeEnabled
		st.TimeEnabled = &enabled
	}
	for k, v := range h.faults {
		st.Faults[k] = v
	}
	h.mu.Unlock()
	return st
}

// apply validates the whole change first, then applies it, so a bad request changes nothing.
func (h *hostSim) apply(c hostChange) error {
	if c.ServicePolicy != nil {
		switch *c.ServicePolicy {
		case "on", "off", "automatic":
		default:
			return fmt.Errorf("service_policy must be on, off or automatic, not %q", *c.ServicePolicy)
		}
	}
	if c.ConnectionState != nil {
		switch types.HostSystemConnectionState(*c.ConnectionState) {
		case types.HostSystemConnectionStateConnected, types.HostSystemConnectionStateDisconnected,
			types.HostSystemConnectionStateNotResponding:
		default:
			return fmt.Errorf("connection_state must be connected, disconnected or notResponding, not %q", *c.ConnectionState)
		}
	}
	if (c.Protocol != nil || c.TimeEnabled != nil) && !h.release.hasTimeProtocol() {
		return fmt.Errorf("protocol and time_services_enabled exist on ESXi 7.0.3 and later, not on %s", h.release.Version)
	}
	if c.Protocol != nil && *c.Protocol != "ntp" && *c.Protocol != "ptp" {
		return fmt.Errorf("protocol must be ntp or ptp, not %q", *c.Protocol)
	}
	if c.ClockOffset != nil && (math.IsNaN(*c.ClockOffset) || math.IsInf(*c.ClockOffset, 0)) {
		return fmt.Errorf("clock_offset_seconds must be a finite number")
	}
	for method, name := range c.Faults {
		if name == nil {
			continue
		}
		if _, ok := faultFor(*name); !ok {
			return fmt.Errorf("fault for %s must be one of %s or null, not %q", method, strings.Join(faultNames, ", "), *name)
		}
	}

	if c.NtpServers != nil || c.Protocol != nil {
		h.withSystem(h.dateTime, func() {
			servers := h.dateTime.DateTimeInfo.NtpConfig.Server
			if c.NtpServers != nil {
				servers = *c.NtpServers
			}
			protocol := h.protocolLocked()
			if c.Protocol != nil {
				protocol = *c.Protocol
			}
			h.setDateTimeLocked(h.dateTime.DateTimeInfo.TimeZone, servers, protocol)
		})
	}
	if c.ServicePolicy != nil || c.ServiceRunning != nil {
		h.withSystem(h.service, func() {
			h.setServiceLocked(ntpService, func(s *types.HostService) {
				if c.ServicePolicy != nil {
					s.Policy = *c.ServicePolicy
				}
				if c.ServiceRunning != nil {
					s.Running = *c.ServiceRunning
				}
			})
			h.followServiceLocked()
		})
	}
	if c.FirewallEnabled != nil {
		h.withSystem(h.firewall, func() { h.setRulesetLocked(ntpRuleset, *c.FirewallEnabled) })
	}
	if c.ConnectionState != nil {
		h.withHost(func() { h.host.Runtime.ConnectionState = types.HostSystemConnectionState(*c.ConnectionState) })
	}
	h.mu.Lock()
	if c.ClockOffset != nil {
		h.offset = *c.ClockOffset
	}
	if c.TimeEnabled != nil {
		h.timeEnabled = *c.TimeEnabled
	}
	for method, name := range c.Faults {
		if name == nil {
			delete(h.faults, method)
		} else {
			h.faults[method] = *name
		}
	}
	h.mu.Unlock()
	return nil
}

func writeJSON(w http.ResponseWriter, status int, value interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(value)
}

func fail(w http.ResponseWriter, status int, format string, args ...interface{}) {
	writeJSON(w, status, map[string]string{"error": fmt.Sprintf(format, args...)})
}

func (fe *frontend) stats() map[string]interface{} {
	fe.mu.Lock()
	defer fe.mu.Unlock()
	byMethod := make(map[string]int64, len(fe.byMethod))
	for k, v := range fe.byMethod {
		byMethod[k] = v
	}
	return map[string]interface{}{"requests": fe.requests, "by_method": byMethod}
}

func (fe *frontend) control(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, controlPrefix), "/")
	switch {
	case path == "stats" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, fe.stats())
	case path == "stats/reset" && r.Method == http.MethodPost:
		fe.mu.Lock()
		fe.requests = 0
		fe.byMethod = map[string]int64{}
		fe.mu.Unlock()
		writeJSON(w, http.StatusOK, fe.stats())
	case path == "die-on" && r.Method == http.MethodPost:
		var order struct {
			Text string `json:"text"`
		}
		if err := json.NewDecoder(r.Body).Decode(&order); err != nil {
			fail(w, http.StatusBadRequest, "body must be {\"text\": \"...\"}: %s", err)
			return
		}
		fe.mu.Lock()
		fe.dieOn = order.Text
		fe.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]string{"die_on": order.Text})
	case path == "reset" && r.Method == http.MethodPost:
		for _, name := range fe.fleet.order {
			fe.fleet.hosts[name].reset()
		}
		writeJSON(w, http.StatusOK, map[string]interface{}{"reset": len(fe.fleet.order)})
	case path == "hosts" && r.Method == http.MethodGet:
		states := make([]hostState, 0, len(fe.fleet.order))
		for _, name := range fe.fleet.order {
			states = append(states, fe.fleet.hosts[name].state())
		}
		writeJSON(w, http.StatusOK, states)
	case strings.HasPrefix(path, "hosts/"):
		name := strings.TrimPrefix(path, "hosts/")
		host, ok := fe.fleet.hosts[name]
		if !ok {
			fail(w, http.StatusNotFound, "no host named %q; GET %shosts lists them", name, controlPrefix)
			return
		}
		switch r.Method {
		case http.MethodGet:
			writeJSON(w, http.StatusOK, host.state())
		case http.MethodPost:
			var change hostChange
			decoder := json.NewDecoder(r.Body)
			decoder.DisallowUnknownFields()
			if err := decoder.Decode(&change); err != nil {
				fail(w, http.StatusBadRequest, "body must be a JSON object with some of ntp_servers, "+
					"service_policy, service_running, firewall_enabled, clock_offset_seconds, "+
					"connection_state, faults, protocol, time_services_enabled: %s", err)
				return
			}
			if err := host.apply(change); err != nil {
				fail(w, http.StatusBadRequest, "%s", err)
				return
			}
			writeJSON(w, http.StatusOK, host.state())
		default:
			fail(w, http.StatusMethodNotAllowed, "use GET or POST on %s", r.URL.Path)
		}
	default:
		fail(w, http.StatusNotFound, "unknown control path %s %s; see tests/testbed/vcsim/README.md", r.Method, r.URL.Path)
	}
}
