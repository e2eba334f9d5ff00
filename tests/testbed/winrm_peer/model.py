# Private to this repository's tests, demo and benchmarks.
"""The simulated Windows hosts: registry, OS, System event log, boot time, restarts, faults; GPOs."""

import datetime
import threading
import time
import uuid

POLICY_KEY = r'HKEY_LOCAL_MACHINE\Software\Policies\Microsoft\Windows NT\Rpc'
POLICY_VALUE = 'IgnoreDelegationFailure'
OS_2008R2 = {'caption': 'Microsoft Windows Server 2008 R2 Enterprise ', 'version': '6.1.7601',
             'build': '7601', 'service_pack': 'Service Pack 1'}
OS_2012R2 = {'caption': 'Microsoft Windows Server 2012 R2 Standard', 'version': '6.3.9600',
             'build': '9600', 'service_pack': ''}
OS_2025 = {'caption': 'Microsoft Windows Server 2025 Standard', 'version': '10.0.26100',
           'build': '26100', 'service_pack': ''}
DEFAULT_FAULTS = {'wrong_password': False, 'access_denied': False, 'never_returns': False,
                  'slow_seconds': 0, 'slow_match': '', 'down': False, 'shell_access_denied': False,
                  'keeps_logging': False, 'events_access_denied': False}
# Hosts of a real estate beside ex01..exNN (group field_servers): localized Windows, a host that
# accepts Kerberos only (NTLM restricted by policy), and Windows Server 2025, which ships without WMIC.
FIELD_HOSTS = {
    'exde01': {'language': 'de-DE'},
    'exfr01': {'language': 'fr-FR'},
    'exkrb01': {'auth': 'kerberos'},
    'exnowmic01': {'os': OS_2025, 'wmic': False},
}
LANGUAGES = ('en-US', 'de-DE', 'fr-FR')
# Keys every host has, so that `reg query` of a parent key answers like Windows does.
BASE_KEYS = (
    r'HKEY_LOCAL_MACHINE\Software',
    r'HKEY_LOCAL_MACHINE\Software\Policies',
    r'HKEY_LOCAL_MACHINE\Software\Policies\Microsoft',
    r'HKEY_LOCAL_MACHINE\Software\Policies\Microsoft\Windows NT',
)
EVENTS_KEPT = 5000


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def iso(moment):
    return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%f') + '0Z'


class Event:
    """One System log record."""

    def __init__(self, record_id, created, provider, source, event_id, qualifiers, level, message, data, computer):
        self.record_id = record_id
        self.created = created
        self.provider = provider
        self.source = source
        self.event_id = event_id
        self.qualifiers = qualifiers
        self.level = level
        self.message = message
        self.data = data
        self.computer = computer


class Host:
    """One simulated Windows host. Every public method takes the lock; callers never do."""

    def __init__(self, name, domain, os_info, event_interval, restart_seconds, peer_name='dc01',
                 language='en-US', auth='negotiate', wmic=True):
        self.name = name
        # The display language: reg.exe, shutdown.exe, wevtutil and cmd.exe print their messages in it.
        self.language = language
        # 'negotiate' (NTLM or Kerberos, Basic too) or 'kerberos' (NTLM and Basic refused).
        self.auth = auth
        self.wmic = wmic
        self.domain = domain
        self.fqdn = '%s.%s.local' % (name, domain.lower())
        self.os = dict(os_info)
        self.event_interval = float(event_interval)
        self.restart_seconds = float(restart_seconds)
        self.peer_name = peer_name
        self.lock = threading.RLock()
        self.faults = dict(DEFAULT_FAULTS)
        self.requests = 0
        self.restarts = 0
        self.shells = {}
        self.keys = {}
        self.events = []
        self.next_record_id = 1000
        self.listeners_changed = None  # set by the server: called when the host goes down or up
        self.reset()

    # -- state -------------------------------------------------------------------------
    def reset(self):
        with self.lock:
            self.faults = dict(DEFAULT_FAULTS)
            self.keys = {key.lower(): (key, {}) for key in BASE_KEYS}
            self.shells = {}
            self.restarts = 0
            self.requests = 0
            self.shutdown_at = None
            self.shutdown_message = ''
            self.down_until = None
            self.up = True
            self.events = []
            now = utcnow()
            # A previous boot's events, so that "since boot" filters matter.
            previous_boot = now - datetime.timedelta(days=3)
            self._add_event(previous_boot, 'EventLog', 6005)
            for minutes in (10, 20, 30):
                self._add_event(now - datetime.timedelta(minutes=minutes + 5), 'DCOM', 10009)
            self._add_event(now - datetime.timedelta(minutes=4), 'User32', 1074)
            self.boot_time = now - datetime.timedelta(minutes=3)
            self._add_event(self.boot_time, 'EventLog', 6005)
            self.effective_value = None
            self.events_generated_until = self.boot_time
            self._notify()

    def _notify(self):
        if self.listeners_changed:
            self.listeners_changed(self)

    def _add_event(self, created, kind, event_id):
        if kind == 'DCOM':
            event = Event(self.next_record_id, created, 'Microsoft-Windows-DistributedCOM', 'DCOM', 10009, 49152, 2,
                          'DCOM was unable to communicate with the computer %s.%s.local using any of the configured '
                          'protocols.' % (self.peer_name, self.domain.lower()),
                          [('param1', '%s.%s.local' % (self.peer_name, self.domain.lower()))], self.fqdn)
        elif kind == 'EventLog':
            event = Event(self.next_record_id, created, 'EventLog', 'EventLog', 6005, 32768, 4,
                          'The Event log service was started.', [], self.fqdn)
        else:
            event = Event(self.next_record_id, created, 'User32', 'User32', 1074, 32768, 4,
                          'The process C:\\Windows\\system32\\shutdown.exe (%s) has initiated the restart of computer '
                          '%s on behalf of user %s\\Administrator for the following reason: No title for this reason '
                          'could be found' % (self.name.upper(), self.name.upper(), self.domain), [], self.fqdn)
        self.next_record_id += 1
        self.events.append(event)
        del self.events[:-EVENTS_KEPT]

    def tick(self, now=None):
        """Bring the model up to ``now``: scheduled restarts, finished restarts, new 10009 events."""
        with self.lock:
            now = now or utcnow()
            if self.shutdown_at is not None and now >= self.shutdown_at:
                self._generate_events(self.shutdown_at)
                self._add_event(self.shutdown_at, 'User32', 1074)
                self.shutdown_at = None
                self.up = False
                self.shells = {}
                self.down_until = now + datetime.timedelta(seconds=self.restart_seconds)
                self._notify()
            if not self.up and self.down_until is not None and now >= self.down_until:
                if self.faults['never_returns']:
                    self.down_until = None
                else:
                    self._boot(now)
            if self.up:
                self._generate_events(now)

    def _boot(self, now):
        self.up = True
        self.down_until = None
        self.boot_time = now
        self.restarts += 1
        self.effective_value = self.get_policy_value()
        self._add_event(now, 'EventLog', 6005)
        self.events_generated_until = now
        self._notify()

    def _generate_events(self, until):
        # keeps_logging: the events have a cause the policy does not cover, so they go on after the restart.
        if (self.effective_value == 1 and not self.faults['keeps_logging']) or self.event_interval <= 0:
            self.events_generated_until = max(self.events_generated_until, until)
            return
        step = datetime.timedelta(seconds=self.event_interval)
        moment = self.events_generated_until + step
        while moment <= until:
            self._add_event(moment, 'DCOM', 10009)
            self.events_generated_until = moment
            moment += step

    def answering(self):
        """True when the host accepts connections (up, not switched down)."""
        self.tick()
        with self.lock:
            return self.up and not self.faults['down']

    def schedule_restart(self, seconds, message):
        with self.lock:
            if self.shutdown_at is not None:
                return 1190
            self.shutdown_at = utcnow() + datetime.timedelta(seconds=seconds)
            self.shutdown_message = message
            return 0

    def abort_restart(self):
        with self.lock:
            if self.shutdown_at is None:
                return 1116
            self.shutdown_at = None
            return 0

    # -- registry ------------------------------------------------------------------------
    def get_key(self, path):
        with self.lock:
            entry = self.keys.get(path.lower())
            return None if entry is None else entry[1]

    def key_name(self, path):
        with self.lock:
            entry = self.keys.get(path.lower())
            return None if entry is None else entry[0]

    def subkeys(self, path):
        with self.lock:
            prefix = path.lower() + '\\'
            return sorted(name for lower, (name, _values) in self.keys.items()
                          if lower.startswith(prefix) and '\\' not in lower[len(prefix):])

    def create_key(self, path):
        with self.lock:
            parts = path.split('\\')
            for index in range(2, len(parts) + 1):
                partial = '\\'.join(parts[:index])
                self.keys.setdefault(partial.lower(), (partial, {}))
            return self.keys[path.lower()][1]

    def set_value(self, path, name, value_type, data):
        with self.lock:
            values = self.create_key(path)
            for existing in list(values):
                if existing.lower() == name.lower():
                    del values[existing]
            values[name] = (value_type, data)

    def find_value(self, path, name):
        with self.lock:
            values = self.get_key(path) or {}
            for existing, content in values.items():
                if existing.lower() == name.lower():
                    return existing, content
            return None

    def delete_value(self, path, name):
        with self.lock:
            values = self.get_key(path)
            found = self.find_value(path, name)
            if found is None:
                return False
            del values[found[0]]
            return True

    def get_policy_value(self):
        found = self.find_value(POLICY_KEY, POLICY_VALUE)
        if found is None:
            return None
        return found[1][1]

    def set_policy_value(self, value):
        if value is None:
            self.delete_value(POLICY_KEY, POLICY_VALUE)
        else:
            self.set_value(POLICY_KEY, POLICY_VALUE, 'REG_DWORD', int(value))

    # -- control API view ----------------------------------------------------------------
    def describe(self):
        self.tick()
        with self.lock:
            since_boot = [event for event in self.events
                          if event.event_id == 10009 and event.created >= self.boot_time]
            return {
                'name': self.name,
                'up': self.up and not self.faults['down'],
                'registry': {POLICY_VALUE: self.get_policy_value()},
                'effective_value': self.effective_value,
                'boot_time': self.boot_time.isoformat(),
                'restarts': self.restarts,
                'restart_pending': self.shutdown_at is not None,
                'events_since_boot': len(since_boot),
                'newest_event': since_boot[-1].created.isoformat() if since_boot else None,
                'os': {'caption': self.os['caption'], 'version': self.os['version']},
                'language': self.language,
                'auth': self.auth,
                'wmic': self.wmic,
                'faults': dict(self.faults),
                'requests': self.requests,
                'shells': len(self.shells),
            }

    def update(self, changes):
        """Apply a control API POST: {"registry": {...}, "faults": {...}}; raise ValueError on bad input."""
        with self.lock:
            for name, value in (changes.get('registry') or {}).items():
                if name != POLICY_VALUE:
                    raise ValueError('only %s can be set through the control API' % POLICY_VALUE)
                if value is not None and not isinstance(value, int):
                    raise ValueError('%s must be an integer or null' % POLICY_VALUE)
                self.set_policy_value(value)
            if 'effective_value' in changes:
                self.effective_value = changes['effective_value']
            for name, value in (changes.get('faults') or {}).items():
                if name not in DEFAULT_FAULTS:
                    raise ValueError('unknown fault %r; known: %s' % (name, ', '.join(sorted(DEFAULT_FAULTS))))
                self.faults[name] = value
            if not self.faults['never_returns'] and not self.up and self.down_until is None:
                self._boot(utcnow())
            self._notify()


class Gpo:
    """A Group Policy Object with registry-based policy settings (Computer Configuration)."""

    def __init__(self, name, gpo_id, domain):
        self.name = name
        self.id = gpo_id
        self.domain = domain
        self.created = utcnow() - datetime.timedelta(days=400)
        self.modified = self.created
        self.version = 1
        self.values = {}  # (key lower, value name lower) -> (key, name, type, value)

    def describe(self):
        return {'name': self.name, 'id': self.id,
                'values': [{'key': key, 'value_name': name, 'type': value_type, 'value': value}
                           for key, name, value_type, value in self.values.values()]}


class Fleet:
    """Every simulated host and the domain's GPOs."""

    def __init__(self, hosts=4, domain='FLEETFIX', event_interval=5.0, restart_seconds=3.0, modern_hosts=None):
        self.domain = domain
        self.lock = threading.RLock()
        self.hosts = {}
        self.event_interval = event_interval
        self.restart_seconds = restart_seconds
        modern = set(modern_hosts if modern_hosts is not None else ([host_name(4)] if hosts >= 4 else []))
        for index in range(1, hosts + 1):
            name = host_name(index)
            os_info = OS_2012R2 if name in modern else OS_2008R2
            self.hosts[name] = Host(name, domain, os_info, event_interval, restart_seconds)
        for name, spec in FIELD_HOSTS.items():
            self.hosts[name] = Host(name, domain, spec.get('os', OS_2008R2), event_interval, restart_seconds,
                                    language=spec.get('language', 'en-US'), auth=spec.get('auth', 'negotiate'),
                                    wmic=spec.get('wmic', True))
        self.dc = Host('dc01', domain, OS_2008R2, 0, restart_seconds)
        self.dc.is_dc = True
        self.hosts['dc01'] = self.dc
        self.reset_gpos()

    def reset_gpos(self):
        with self.lock:
            self.gpos = {}
            for name, gpo_id in (('Default Domain Policy', '31b2f340-016d-11d2-945f-00c04fb984f9'),
                                 ('Exchange Servers Policy', str(uuid.UUID(int=0x6c1e0a3c5d2b4f2e8a9b7c6d5e4f3a21)))):
                self.gpos[name.lower()] = Gpo(name, gpo_id, self.domain)

    def find_gpo(self, name):
        with self.lock:
            return self.gpos.get(name.lower())

    def reset(self):
        for host in self.hosts.values():
            host.reset()
        self.reset_gpos()

    def tick(self):
        for host in self.hosts.values():
            host.tick()


def host_name(index):
    return 'ex%02d' % index


def wait(seconds):
    time.sleep(seconds)
