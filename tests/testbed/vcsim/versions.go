// Private to this repository's tests, demo and benchmarks.

// What differs between ESXi releases for time remediation, and how the simulator shows it
// on the wire. govmomi 0.24's Go types stop at vSphere 7.0 (HostDateTimeInfo has
// systemClockProtocol, nothing later; HostFirewallRuleset has no userControllable), so the
// 7.0.3 and 8.0.2 fields are written into the XML of every property read by rewriteResponse,
// in the element order a real vCenter 8.0.3 sends (../shared/recordings/vsphere/).
package main

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

const (
	// The vCenter itself: what about.apiVersion and /sdk/vimServiceVersions.xml say.
	vcenterVersion    = "8.0.3"
	vcenterAPIVersion = "8.0.3.0"
	vcenterBuild      = "24022515"
)

// Every API version the simulated vCenter accepts besides its own, newest first: pyVmomi
// picks the newest version it knows from this list.
var priorAPIVersions = []string{"8.0.2.0", "8.0.1.0", "8.0.0.2", "8.0.0.1", "8.0.0.0", "7.0.3.0",
	"7.0.2.0", "7.0.1.0", "7.0.0.0", "6.7.3", "6.7.2", "6.7.1", "6.7", "6.5", "6.0", "5.5"}

// esxRelease is one ESXi release the simulator can give a host.
type esxRelease struct {
	Version    string // product.version
	APIVersion string // product.apiVersion
	Build      string
}

var esxReleases = map[string]esxRelease{
	"6.7.0": {"6.7.0", "6.7.3", "17700523"},
	"7.0.3": {"7.0.3", "7.0.3.0", "21930508"},
	"8.0.0": {"8.0.0", "8.0.0.1", "20513097"},
	"8.0.1": {"8.0.1", "8.0.1.0", "21495797"},
	"8.0.2": {"8.0.2", "8.0.2.0", "22380479"},
	"8.0.3": {"8.0.3", "8.0.2.0", "24022510"}, // ESXi 8.0.3 answers API 8.0.2.0, as in the recording
}

func releaseNames() string {
	return "6.7.0, 7.0.3, 8.0.0, 8.0.1, 8.0.2, 8.0.3"
}

func versionTuple(version string) []int {
	var parts []int
	for _, part := range strings.Split(version, ".") {
		n, err := strconv.Atoi(part)
		if err != nil {
			break
		}
		parts = append(parts, n)
	}
	return parts
}

// atLeast: whether dotted version a is minimum or later.
func atLeast(a, minimum string) bool {
	x, y := versionTuple(a), versionTuple(minimum)
	for i := 0; i < len(y); i++ {
		if i >= len(x) {
			return false
		}
		if x[i] != y[i] {
			return x[i] > y[i]
		}
	}
	return true
}

// Release traits, by product version.

// hasTimeProtocol: HostDateTimeInfo.systemClockProtocol/enabled/ptpConfig... and
// HostDateTimeConfig.protocol/enabled (vSphere 7.0.3).
func (r esxRelease) hasTimeProtocol() bool { return atLeast(r.Version, "7.0.3") }

// rulesetOwnedByService: the ntpClient ruleset belongs to ntpd; it cannot be enabled while
// ntpd is stopped (7.0.3 and later).
func (r esxRelease) rulesetOwnedByService() bool { return atLeast(r.Version, "7.0.3") }

// rulesetFollowsService: 8.0.2 and later report userControllable false on ntpClient, open it
// exactly while ntpd runs and refuse Enable/Disable/UpdateRuleset of anything but its IP list.
func (r esxRelease) rulesetFollowsService() bool { return atLeast(r.Version, "8.0.2") }

// reportsRulesetControl: HostFirewallRuleset.userControllable/ipListUserConfigurable (API 8.0.2).
func (r esxRelease) reportsRulesetControl() bool { return atLeast(r.APIVersion, "8.0.2") }

// parseVersionList reads "-versions 6.7.0,7.0.3,8.0.3": cycled over the hosts in name order.
func parseVersionList(list string) ([]esxRelease, error) {
	var releases []esxRelease
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if name == "6.7" {
			name = "6.7.0"
		}
		release, ok := esxReleases[name]
		if !ok {
			return nil, fmt.Errorf("unknown ESXi version %q: use %s", name, releaseNames())
		}
		releases = append(releases, release)
	}
	if len(releases) == 0 {
		return nil, fmt.Errorf("-versions lists no ESXi version")
	}
	return releases, nil
}

// Wire additions ---------------------------------------------------------------------------

// dateTimeExtra is what a 7.0.3+ host adds to HostDateTimeInfo after ntpConfig.
func (h *hostSim) dateTimeExtra() []byte {
	h.mu.Lock()
	enabled := h.timeEnabled
	h.mu.Unlock()
	return []byte(fmt.Sprintf("<ptpConfig><domain>0</domain><port><index>0</index></port></ptpConfig>"+
		"<enabled>%t</enabled><disableEvents>false</disableEvents><disableFallback>true</disableFallback>"+
		"<inFallbackState>false</inFallbackState><serviceSync>false</serviceSync>"+
		"<ntpRunTime>0</ntpRunTime><ntpDuration>less than a minute</ntpDuration>", enabled))
}

// rulesetExtra is what an API 8.0.2 host adds to a HostFirewallRuleset after allowedHosts.
func (h *hostSim) rulesetExtra(key string) []byte {
	userControllable := true
	if key == ntpRuleset && h.release.rulesetFollowsService() {
		userControllable = false
	}
	return []byte(fmt.Sprintf("<userControllable>%t</userControllable><ipListUserConfigurable>true</ipListUserConfigurable>",
		userControllable))
}

// hasPatchLevel: AboutInfo.patchLevel (vSphere 7.0.2), e.g. "3.0" for 8.0.3 as recorded.
func (r esxRelease) hasPatchLevel() bool { return atLeast(r.Version, "7.0.2") }

func (r esxRelease) patchLevel() string {
	parts := strings.Split(r.Version, ".")
	return parts[len(parts)-1] + ".0"
}

var (
	markVersionBuild = []byte(`</version><build>`)
	markObj          = []byte(`<obj type="`)
	markRulesetKey   = []byte(`<ruleset><key>`)
	markNtpConfigEnd = []byte(`</ntpConfig>`)
	markAllowedEnd   = []byte(`</allowedHosts>`)
)

// rewriteResponse adds the fields of each host's release to a property-read response. It
// follows the objects of the answer (<obj type="...">moid</obj>) to know whose properties
// come next, then inserts after each </ntpConfig> and each ruleset's </allowedHosts>.
// current is the host of a Fetch (whose answer names no object), or nil.
func (f *fleet) rewriteResponse(body []byte, current *hostSim) []byte {
	if !bytes.Contains(body, markNtpConfigEnd) && !bytes.Contains(body, markAllowedEnd) && !bytes.Contains(body, markVersionBuild) {
		return body
	}
	out := make([]byte, 0, len(body)+len(body)/8)
	rulesetKey := ""
	i := 0
	for {
		j := bytes.IndexByte(body[i:], '<')
		if j < 0 {
			out = append(out, body[i:]...)
			return out
		}
		j += i
		rest := body[j:]
		switch {
		case bytes.HasPrefix(rest, markObj):
			// <obj type="HostSystem">host-21</obj>
			end := bytes.Index(rest, []byte("</obj>"))
			if start := bytes.IndexByte(rest, '>'); start > 0 && end > start {
				current = f.byMoid[string(rest[start+1:end])]
			}
			out = append(out, body[i:j+1]...)
		case bytes.HasPrefix(rest, markVersionBuild):
			// inside an AboutInfo (config.product): patchLevel sits between version and build
			out = append(out, body[i:j+len("</version>")]...)
			if current != nil && current.release.hasPatchLevel() {
				out = append(out, "<patchLevel>"+current.release.patchLevel()+"</patchLevel>"...)
			}
			j += len("</version>") - 1
		case bytes.HasPrefix(rest, markRulesetKey):
			end := bytes.Index(rest, []byte("</key>"))
			if end > len(markRulesetKey) {
				rulesetKey = string(rest[len(markRulesetKey):end])
			}
			out = append(out, body[i:j+1]...)
		case bytes.HasPrefix(rest, markNtpConfigEnd):
			out = append(out, body[i:j+len(markNtpConfigEnd)]...)
			if current != nil && current.release.hasTimeProtocol() {
				out = append(out, current.dateTimeExtra()...)
			}
			j += len(markNtpConfigEnd) - 1
		case bytes.HasPrefix(rest, markAllowedEnd):
			out = append(out, body[i:j+len(markAllowedEnd)]...)
			if current != nil && current.release.reportsRulesetControl() {
				out = append(out, current.rulesetExtra(rulesetKey)...)
			}
			j += len(markAllowedEnd) - 1
		default:
			out = append(out, body[i:j+1]...)
		}
		i = j + 1
	}
}

// The request fields of HostDateTimeConfig that govmomi 0.24 does not decode.
type dateTimeConfigExtra struct {
	Protocol string
	Enabled  *bool
	Present  bool
}

func tagText(body []byte, tag string) (string, bool) {
	open := []byte("<" + tag + ">")
	start := bytes.Index(body, open)
	if start < 0 {
		return "", false
	}
	start += len(open)
	end := bytes.Index(body[start:], []byte("</"+tag+">"))
	if end < 0 {
		return "", false
	}
	return string(body[start : start+end]), true
}

func parseDateTimeConfigExtra(body []byte) dateTimeConfigExtra {
	var extra dateTimeConfigExtra
	if protocol, ok := tagText(body, "protocol"); ok {
		extra.Protocol = protocol
		extra.Present = true
	}
	if enabled, ok := tagText(body, "enabled"); ok {
		value := strings.TrimSpace(enabled) == "true"
		extra.Enabled = &value
		extra.Present = true
	}
	return extra
}

// requestThis is the moid of the object a SOAP request calls (<_this type="...">moid</_this>).
func requestThis(body []byte) string {
	start := bytes.Index(body, []byte("<_this"))
	if start < 0 {
		return ""
	}
	open := bytes.IndexByte(body[start:], '>')
	end := bytes.Index(body[start:], []byte("</_this>"))
	if open < 0 || end < open {
		return ""
	}
	return strings.TrimSpace(string(body[start+open+1 : start+end]))
}
