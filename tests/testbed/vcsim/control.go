// Private to this repository's tests, demo and benchmarks.

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"github.com/vmware/govmomi/vim25/types"
)

const controlPrefix = "/fleetfix/"

// The first element inside the SOAP Body names the method.
var soapMethod = regexp.MustCompile(`<(?:[A-Za-z0-9_]+:)?Body[^>]*>\s*<(?:[A-Za-z0-9_]+:)?([A-Za-z0-9_]+)`)

type frontend struct {
	fleet *fleet
	next  http.Handler

	mu       sync.Mutex
	requests int64
	byMethod map[string]int64
}

func newFrontend(f *fleet, next http.Handler) *frontend {
	return &frontend{fleet: f, next: next, byMethod: map[string]int64{}}
}

func (fe *frontend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, controlPrefix) {
		fe.control(w, r)
		return
	}
	method := ""
	if r.Method == http.MethodPost && r.Body != nil {
		body, err := io.ReadAll(r.Body)
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
	fe.next.ServeHTTP(w, r)
}

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
			}
		}
		st.ConnectionState = string(h.host.Runtime.ConnectionState)
	})
	h.mu.Lock()
	st.ClockOffset = h.offset
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

	if c.NtpServers != nil {
		h.withSystem(h.dateTime, func() { h.setDateTimeLocked(h.dateTime.DateTimeInfo.TimeZone, *c.NtpServers) })
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
					"connection_state, faults: %s", err)
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
