# Private to this repository's tests, demo and benchmarks.
"""reg.exe, wevtutil.exe, wmic.exe, shutdown.exe and a GroupPolicy subset of powershell.exe.

Formats and exit codes are documented in COMMANDS.md, with the published examples the
unit tests compare against.
"""

import datetime
import re
import xml.sax.saxutils

from winrm_peer.model import iso, utcnow


class Result:
    hangs = False  # True: the command waits for console input and never ends

    def __init__(self, stdout='', stderr='', code=0):
        self.stdout = stdout
        self.stderr = stderr
        self.code = code

    def __repr__(self):
        return 'Result(%r, %r, %r)' % (self.stdout, self.stderr, self.code)


# -- reg.exe ------------------------------------------------------------------------------
ROOTS = {
    'hklm': 'HKEY_LOCAL_MACHINE', 'hkey_local_machine': 'HKEY_LOCAL_MACHINE',
    'hkcu': 'HKEY_CURRENT_USER', 'hkey_current_user': 'HKEY_CURRENT_USER',
    'hkcr': 'HKEY_CLASSES_ROOT', 'hkey_classes_root': 'HKEY_CLASSES_ROOT',
    'hku': 'HKEY_USERS', 'hkey_users': 'HKEY_USERS',
    'hkcc': 'HKEY_CURRENT_CONFIG', 'hkey_current_config': 'HKEY_CURRENT_CONFIG',
}
REG_OK = 'The operation completed successfully.\r\n\r\n'
REG_NOT_FOUND = 'ERROR: The system was unable to find the specified registry key or value.\r\n'
REG_ACCESS_DENIED = 'ERROR: Access is denied.\r\n'
WEVTUTIL_NO_CHANNEL = ('Failed to read events. The specified channel could not be found. Check channel '
                       'configuration.\r\n')
WEVTUTIL_ACCESS_DENIED = 'Failed to read events. Access is denied.\r\n'
# What localized Windows prints instead (reg.exe, shutdown.exe, wevtutil, cmd.exe take their messages from the
# system's MUI resources; exit codes, value lines, key paths, wmic property names and event XML stay as they are).
MESSAGES = {
    'de-DE': {
        REG_OK: 'Der Vorgang wurde erfolgreich beendet.\r\n\r\n',
        REG_NOT_FOUND: 'FEHLER: Der angegebene Registrierungsschl\u00fcssel bzw. Wert wurde nicht gefunden.\r\n',
        REG_ACCESS_DENIED: 'FEHLER: Zugriff verweigert\r\n',
        'ERROR: Invalid syntax.': 'FEHLER: Ung\u00fcltige Syntax.',
        'A system shutdown has already been scheduled.(1190)\r\n':
            'Das Herunterfahren des Systems wurde bereits geplant.(1190)\r\n',
        'Unable to abort the system shutdown because no shutdown was in progress.(1116)\r\n':
            'Das Herunterfahren des Systems konnte nicht abgebrochen werden, da kein Herunterfahren durchgef\u00fchrt '
            'wurde.(1116)\r\n',
        'The parameter is incorrect.(87)\r\n': 'Falscher Parameter.(87)\r\n',
        'The parameter is incorrect.\r\n': 'Falscher Parameter.\r\n',
        'Failed to read events. The specified query is invalid.\r\n':
            'Fehler beim Lesen von Ereignissen. Die angegebene Abfrage ist ung\u00fcltig.\r\n',
        "'%s' is not recognized": 'Der Befehl "%s" ist entweder falsch geschrieben oder\r\nkonnte nicht gefunden '
                                  'werden.\r\n',
        WEVTUTIL_NO_CHANNEL: 'Fehler beim Lesen von Ereignissen. Der angegebene Kanal wurde nicht gefunden. '
                             '\u00dcberpr\u00fcfen Sie die Kanalkonfiguration.\r\n',
        WEVTUTIL_ACCESS_DENIED: 'Fehler beim Lesen von Ereignissen. Zugriff verweigert\r\n',
    },
    'fr-FR': {
        REG_OK: "L\u2019op\u00e9ration a r\u00e9ussi.\r\n\r\n",
        REG_NOT_FOUND: "ERREUR\u00a0: le syst\u00e8me n'a pas trouv\u00e9 la cl\u00e9 ou la valeur de Registre "
                       "sp\u00e9cifi\u00e9e.\r\n",
        REG_ACCESS_DENIED: 'ERREUR\u00a0: Acc\u00e8s refus\u00e9.\r\n',
        'ERROR: Invalid syntax.': 'ERREUR\u00a0: syntaxe non valide.',
        'A system shutdown has already been scheduled.(1190)\r\n':
            "Un arr\u00eat du syst\u00e8me a d\u00e9j\u00e0 \u00e9t\u00e9 planifi\u00e9.(1190)\r\n",
        'Unable to abort the system shutdown because no shutdown was in progress.(1116)\r\n':
            "Impossible d'annuler l'arr\u00eat du syst\u00e8me car aucun arr\u00eat n'\u00e9tait en "
            "cours.(1116)\r\n",
        'The parameter is incorrect.(87)\r\n': 'Param\u00e8tre incorrect.(87)\r\n',
        'The parameter is incorrect.\r\n': 'Param\u00e8tre incorrect.\r\n',
        'Failed to read events. The specified query is invalid.\r\n':
            "Impossible de lire les \u00e9v\u00e9nements. La requ\u00eate sp\u00e9cifi\u00e9e n'est pas "
            "valide.\r\n",
        "'%s' is not recognized": "'%s' n'est pas reconnu en tant que commande interne\r\nou externe, un programme "
                                  "ex\u00e9cutable ou un fichier de commandes.\r\n",
        WEVTUTIL_NO_CHANNEL: "Impossible de lire les \u00e9v\u00e9nements. Le canal sp\u00e9cifi\u00e9 est introuvable. "
                             "V\u00e9rifiez la configuration du canal.\r\n",
        WEVTUTIL_ACCESS_DENIED: 'Impossible de lire les \u00e9v\u00e9nements. Acc\u00e8s refus\u00e9.\r\n',
    },
}


def localized(text, env):
    """``text`` as the host's language prints it (English when the table has no translation)."""
    table = MESSAGES.get(getattr(env.host, 'language', 'en-US'), {})
    if text in table:
        return table[text]
    for english, translation in table.items():
        if english.startswith('ERROR: ') and text.startswith(english):
            return translation + text[len(english):]
    return text


def localize_result(result, env):
    return Result(localized(result.stdout, env) if result.stdout else '',
                  localized(result.stderr, env) if result.stderr else '', result.code)


REG_TYPES = ('REG_SZ', 'REG_DWORD', 'REG_QWORD', 'REG_EXPAND_SZ', 'REG_MULTI_SZ', 'REG_BINARY', 'REG_NONE')


def reg_syntax(operation):
    return Result('', 'ERROR: Invalid syntax.\r\nType "REG %s /?" for usage.\r\n' % operation.upper(), 1)


def full_key(path):
    root, _sep, rest = path.partition('\\')
    expanded = ROOTS.get(root.lower())
    if expanded is None:
        return None
    rest = rest.rstrip('\\')
    return expanded + ('\\' + rest if rest else '')


def parse_switches(args, with_values):
    """reg switches: {'/v': 'name', '/f': True, ...}; None when a switch is unknown or lacks its value."""
    switches = {}
    index = 0
    while index < len(args):
        switch = args[index].lower()
        if switch in with_values:
            if index + 1 >= len(args):
                return None
            switches[switch] = args[index + 1]
            index += 2
        elif switch in ('/f', '/s', '/ve', '/reg:64', '/reg:32'):
            switches[switch] = True
            index += 1
        else:
            return None
    return switches


def format_reg_data(value_type, data):
    if value_type in ('REG_DWORD', 'REG_QWORD'):
        return '0x%x' % data
    if value_type == 'REG_MULTI_SZ':
        return '\\0'.join(data)
    return str(data)


def value_line(name, value_type, data):
    return '    %s    %s    %s\r\n' % (name, value_type, format_reg_data(value_type, data))


def reg(args, env, raw):
    return localize_result(reg_english(args, env), env)


def reg_english(args, env):
    if not args:
        return Result('', 'ERROR: Invalid syntax.\r\nType "REG /?" for usage.\r\n', 1)
    operation = args[0].lower()
    if operation == 'query':
        return reg_query(args[1:], env)
    if operation == 'add':
        return reg_add(args[1:], env)
    if operation == 'delete':
        return reg_delete(args[1:], env)
    return Result('', 'ERROR: Invalid syntax.\r\nType "REG /?" for usage.\r\n', 1)


def reg_query(args, env):
    if not args:
        return reg_syntax('query')
    key = full_key(args[0])
    switches = parse_switches(args[1:], ('/v', '/t', '/d', '/se', '/f'))
    if key is None or switches is None:
        return reg_syntax('query')
    host = env.host
    values = host.get_key(key)
    if values is None:
        return Result('', REG_NOT_FOUND, 1)
    shown = host.key_name(key)
    if '/v' in switches:
        found = host.find_value(key, switches['/v'])
        if found is None:
            return Result('', REG_NOT_FOUND, 1)
        name, (value_type, data) = found
        return Result('\r\n%s\r\n%s\r\n' % (shown, value_line(name, value_type, data)))
    out = '\r\n%s\r\n' % shown
    for name in values:
        value_type, data = values[name]
        out += value_line(name, value_type, data)
    if values:
        out += '\r\n'
    for subkey in host.subkeys(key):
        out += subkey + '\r\n'
    return Result(out)


def reg_add(args, env):
    if not args:
        return reg_syntax('add')
    key = full_key(args[0])
    switches = parse_switches(args[1:], ('/v', '/t', '/d', '/s'))
    if key is None or switches is None:
        return reg_syntax('add')
    value_type = switches.get('/t', 'REG_SZ').upper()
    if value_type not in REG_TYPES:
        return Result('', 'ERROR: Invalid key name.\r\nType "REG ADD /?" for usage.\r\n', 1)
    host = env.host
    if host.faults.get('access_denied') and key.upper().startswith('HKEY_LOCAL_MACHINE'):
        return Result('', REG_ACCESS_DENIED, 1)
    if '/v' not in switches:
        host.create_key(key)
        return Result(REG_OK)
    raw_data = switches.get('/d', '')
    if value_type in ('REG_DWORD', 'REG_QWORD'):
        try:
            data = int(raw_data, 0) if raw_data else 0
        except ValueError:
            return Result('', 'ERROR: Invalid syntax.\r\nType "REG ADD /?" for usage.\r\n', 1)
        if not 0 <= data < (1 << (32 if value_type == 'REG_DWORD' else 64)):
            return Result('', 'ERROR: Invalid syntax.\r\nType "REG ADD /?" for usage.\r\n', 1)
    elif value_type == 'REG_MULTI_SZ':
        data = raw_data.split('\\0')
    else:
        data = raw_data
    found = host.find_value(key, switches['/v'])
    if found is not None and '/f' not in switches:
        # No console to answer the prompt over WinRM: reg reads end of input and gives up.
        return Result('Value %s exists, overwrite(Yes/No)? ' % found[0], '', 1)
    host.set_value(key, switches['/v'], value_type, data)
    return Result(REG_OK)


def reg_delete(args, env):
    if not args:
        return reg_syntax('delete')
    key = full_key(args[0])
    switches = parse_switches(args[1:], ('/v',))
    if key is None or switches is None or '/v' not in switches:
        return reg_syntax('delete')
    host = env.host
    if host.faults.get('access_denied') and key.upper().startswith('HKEY_LOCAL_MACHINE'):
        return Result('', REG_ACCESS_DENIED, 1)
    if host.get_key(key) is None or host.find_value(key, switches['/v']) is None:
        return Result('', REG_NOT_FOUND, 1)
    if '/f' not in switches:
        return Result('Delete the registry value %s (Yes/No)? ' % switches['/v'], '', 1)
    host.delete_value(key, switches['/v'])
    return Result(REG_OK)


# -- wmic.exe -----------------------------------------------------------------------------
def wmi_datetime(moment):
    return moment.astimezone(datetime.timezone.utc).strftime('%Y%m%d%H%M%S.%f') + '+000'


WMIC_OS = {
    'caption': ('Caption', lambda host: host.os['caption']),
    'version': ('Version', lambda host: host.os['version']),
    'lastbootuptime': ('LastBootUpTime', lambda host: wmi_datetime(host.boot_time)),
    'csname': ('CSName', lambda host: host.name.upper()),
    'buildnumber': ('BuildNumber', lambda host: host.os['build']),
    'localdatetime': ('LocalDateTime', lambda host: wmi_datetime(utcnow())),
    'csdversion': ('CSDVersion', lambda host: host.os['service_pack']),
}


def wmic(args, env, raw):
    if not env.stdin_redirected:
        # Over a remote shell wmic reads its console input after printing and never returns
        # (its stdin is the WinRM shell's open input stream); `< NUL` ends that.
        result = wmic_answer(args, env)
        hung = Result(result.stdout, result.stderr, 259)
        hung.hangs = True
        return hung
    return wmic_answer(args, env)


def wmic_answer(args, env):
    # wmic writes \r\r\n line ends (its own \r before the console's \r\n) in every format.
    words = list(args)
    lowered = [word.lower() for word in words]
    if len(words) < 2 or lowered[0] != 'os' or lowered[1] != 'get':
        alias = words[0] if words else ''
        return Result('', '%s - Alias not found.\r\r\n' % alias if alias else 'wmic: give an alias.\r\r\n', 44135)
    fmt = 'table'
    properties = []
    for word, low in zip(words[2:], lowered[2:]):
        if low == '/value' or low in ('/format:list', '/format:list.xsl'):
            fmt = 'list'
        elif low.startswith('/format:'):
            fmt = 'table' if low in ('/format:table',) else 'unknown'
        else:
            properties.extend(part for part in word.split(',') if part)
    if fmt == 'unknown':
        return Result('', 'Invalid XSL format (or) file name.\r\r\n', 44135)
    picked = []
    for prop in properties:
        entry = WMIC_OS.get(prop.lower())
        if entry is None:
            return Result('', 'Node - %s\r\r\nERROR:\r\r\nDescription = Invalid query\r\r\n\r\r\n' % env.host.name.upper(),
                          44135)
        picked.append(entry)
    picked = sorted(set(picked), key=lambda entry: entry[0].lower())
    host = env.host
    if fmt == 'list':
        out = '\r\r\n\r\r\n'
        for name, getter in picked:
            out += '%s=%s\r\r\n' % (name, getter(host))
        out += '\r\r\n\r\r\n\r\r\n'
        return Result(out)
    values = [getter(host) for _name, getter in picked]
    widths = [max(len(name), len(value)) + 2 for (name, _getter), value in zip(picked, values)]
    header = ''.join(name.ljust(width) for (name, _getter), width in zip(picked, widths))
    row = ''.join(value.ljust(width) for value, width in zip(values, widths))
    return Result(header + '\r\r\n' + row + '\r\r\n\r\r\n')


# -- shutdown.exe -------------------------------------------------------------------------
def shutdown(args, env, raw):
    return localize_result(shutdown_english(args, env), env)


def shutdown_english(args, env):
    lowered = [arg.lower() for arg in args]
    host = env.host
    if '/a' in lowered:
        code = host.abort_restart()
        if code:
            return Result('', 'Unable to abort the system shutdown because no shutdown was in progress.(1116)\r\n', code)
        return Result()
    if '/r' not in lowered:
        return Result('', 'The emulated shutdown.exe supports /r and /a only.\r\n', 87)
    seconds = 30
    message = ''
    for index, arg in enumerate(lowered):
        if arg == '/t' and index + 1 < len(args):
            try:
                seconds = int(args[index + 1])
            except ValueError:
                return Result('', 'The parameter is incorrect.(87)\r\n', 87)
            if not 0 <= seconds <= 315360000:
                return Result('', 'The parameter is incorrect.(87)\r\n', 87)
        if arg == '/c' and index + 1 < len(args):
            message = args[index + 1]
            if len(message) > 512:
                return Result('', 'The parameter is incorrect.(87)\r\n', 87)
    # /t 0 still lets the command return before the host goes down, as on Windows.
    code = host.schedule_restart(max(seconds, 0.5), message)
    if code == 1190:
        return Result('', 'A system shutdown has already been scheduled.(1190)\r\n', 1190)
    return Result()


# -- wevtutil.exe -------------------------------------------------------------------------
class XPathError(Exception):
    pass


XPATH_TOKEN = re.compile(r"\s*(>=|<=|!=|=|<|>|\(|\)|\[|\]|\*|@\w+|'[^']*'|\"[^\"]*\"|[A-Za-z_][\w\-]*(?=\s*\()|"
                         r"[A-Za-z_][\w\-]*|-?\d+(?:\.\d+)?)")


def xpath_tokens(query):
    tokens = []
    position = 0
    query = query.strip()
    while position < len(query):
        match = XPATH_TOKEN.match(query, position)
        if not match or match.end() == position:
            raise XPathError(query[position:])
        tokens.append(match.group(1))
        position = match.end()
    return tokens


def compare(left, operator, right):
    return {'=': left == right, '!=': left != right, '<': left < right, '<=': left <= right,
            '>': left > right, '>=': left >= right}[operator]


def parse_time(text):
    text = text.strip("'\"")
    match = re.match(r'(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?Z?$', text)
    if not match:
        raise XPathError(text)
    base = datetime.datetime.strptime(match.group(1), '%Y-%m-%dT%H:%M:%S').replace(tzinfo=datetime.timezone.utc)
    fraction = float(match.group(2) or 0)
    return base + datetime.timedelta(seconds=fraction)


class XPathFilter:
    """The structured-query subset the Event Log accepts: *[System[...]] with and/or/()."""

    def __init__(self, query):
        self.tokens = xpath_tokens(query)
        self.position = 0
        if self.tokens == ['*']:
            self.test = lambda event, now: True
            return
        self.expect('*')
        self.expect('[')
        test = self.path_predicate('System')
        self.expect(']')
        if self.position != len(self.tokens):
            raise XPathError(' '.join(self.tokens[self.position:]))
        self.test = test

    def peek(self):
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self):
        token = self.peek()
        if token is None:
            raise XPathError('unexpected end')
        self.position += 1
        return token

    def expect(self, token):
        if self.take() != token:
            raise XPathError(token)

    def path_predicate(self, name):
        self.expect(name)
        self.expect('[')
        test = self.expression()
        self.expect(']')
        return test

    def expression(self):
        """or of ands: XPath's and binds tighter than or."""
        alternatives = [self.conjunction()]
        while self.peek() == 'or':
            self.take()
            alternatives.append(self.conjunction())
        if len(alternatives) == 1:
            return alternatives[0]
        return lambda event, now: any(test(event, now) for test in alternatives)

    def conjunction(self):
        required = [self.term()]
        while self.peek() == 'and':
            self.take()
            required.append(self.term())
        if len(required) == 1:
            return required[0]
        return lambda event, now: all(test(event, now) for test in required)

    def term(self):
        token = self.take()
        if token == '(':
            test = self.expression()
            self.expect(')')
            return test
        if token == 'Provider':
            self.expect('[')
            attribute = self.take()
            operator = self.take()
            value = self.take().strip("'\"")
            self.expect(']')
            field = {'@Name': 'provider', '@EventSourceName': 'source'}.get(attribute)
            if field is None:
                raise XPathError(attribute)
            return lambda event, now: compare(getattr(event, field).lower(), operator, value.lower())
        if token in ('EventID', 'Level', 'EventRecordID'):
            operator = self.take()
            value = int(self.take())
            field = {'EventID': 'event_id', 'Level': 'level', 'EventRecordID': 'record_id'}[token]
            return lambda event, now: compare(getattr(event, field), operator, value)
        if token == 'TimeCreated':
            self.expect('[')
            first = self.take()
            if first == '@SystemTime':
                operator = self.take()
                moment = parse_time(self.take())
                self.expect(']')
                return lambda event, now: compare(event.created, operator, moment)
            if first == 'timediff':
                self.expect('(')
                self.expect('@SystemTime')
                self.expect(')')
                operator = self.take()
                milliseconds = int(self.take())
                self.expect(']')
                return lambda event, now: compare((now - event.created).total_seconds() * 1000, operator, milliseconds)
            raise XPathError(first)
        raise XPathError(token)


PROVIDER_GUIDS = {'Microsoft-Windows-DistributedCOM': '{1B562E86-B7AA-4131-BADC-B6F3A001407E}'}


def event_xml(event):
    escape = xml.sax.saxutils.escape
    guid = PROVIDER_GUIDS.get(event.provider)
    provider = "<Provider Name='%s'%s%s/>" % (
        event.provider, " Guid='%s'" % guid if guid else '',
        " EventSourceName='%s'" % event.source if guid else '')
    if event.data:
        data = '<EventData>%s</EventData>' % ''.join(
            "<Data Name='%s'>%s</Data>" % (name, escape(value)) for name, value in event.data)
    else:
        data = '<EventData></EventData>'
    return ("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>%s"
            "<EventID Qualifiers='%d'>%d</EventID><Version>0</Version><Level>%d</Level><Task>0</Task>"
            "<Opcode>0</Opcode><Keywords>0x80000000000000</Keywords><TimeCreated SystemTime='%s'/>"
            "<EventRecordID>%d</EventRecordID><Correlation/><Execution ProcessID='0' ThreadID='0'/>"
            "<Channel>System</Channel><Computer>%s</Computer><Security/></System>%s</Event>") % (
        provider, event.qualifiers, event.event_id, event.level, iso(event.created), event.record_id,
        event.computer, data)


# wevtutil /f:text labels each field in the display language (the values, XML and /f:xml stay as they are).
EVENT_TEXT = {
    'en-US': dict(event='Event', log='Log Name', source='Source', date='Date', event_id='Event ID', task='Task',
                  level='Level', opcode='Opcode', keyword='Keyword', user='User', user_name='User Name',
                  computer='Computer', description='Description', classic='Classic', sep=': ',
                  levels={1: 'Critical', 2: 'Error', 3: 'Warning', 4: 'Information'}),
    'de-DE': dict(event='Ereignis', log='Protokollname', source='Quelle', date='Datum', event_id='Ereignis-ID',
                  task='Aufgabe', level='Ebene', opcode='Opcode', keyword='Schl\u00fcsselwort', user='Benutzer',
                  user_name='Benutzername', computer='Computer', description='Beschreibung', classic='Klassisch',
                  sep=': ', levels={1: 'Kritisch', 2: 'Fehler', 3: 'Warnung', 4: 'Informationen'}),
    'fr-FR': dict(event='\u00c9v\u00e9nement', log='Nom du journal', source='Source', date='Date',
                  event_id="ID de l'\u00e9v\u00e9nement", task='T\u00e2che', level='Niveau', opcode='Opcode',
                  keyword='Mot cl\u00e9', user='Utilisateur', user_name="Nom d'utilisateur", computer='Ordinateur',
                  description='Description', classic='Classique', sep='\u00a0: ',
                  levels={1: 'Critique', 2: 'Erreur', 3: 'Avertissement', 4: 'Information'}),
}


def event_text(index, event, language='en-US'):
    words = EVENT_TEXT.get(language, EVENT_TEXT['en-US'])
    created = event.created.astimezone(datetime.timezone.utc)
    fields = [('log', 'System'), ('source', event.provider),
              ('date', created.strftime('%Y-%m-%dT%H:%M:%S.') + '%03d' % (created.microsecond // 1000)),
              ('event_id', str(event.event_id)), ('task', 'N/A'),
              ('level', words['levels'].get(event.level, words['levels'][4])), ('opcode', 'N/A'),
              ('keyword', words['classic']), ('user', 'N/A'), ('user_name', 'N/A'), ('computer', event.computer)]
    lines = ['%s[%d]:' % (words['event'], index)]
    lines.extend('  %s%s%s' % (words[name], words['sep'], value) for name, value in fields)
    return '\r\n'.join(lines) + '\r\n  %s%s\r\n%s\r\n\r\n' % (words['description'], words['sep'], event.message)


def wevtutil(args, env, raw):
    return localize_result(wevtutil_english(args, env), env)


def wevtutil_english(args, env):
    if len(args) < 2 or args[0].lower() not in ('qe', 'query-events'):
        return Result('', 'The emulated wevtutil supports qe only.\r\n', 87)
    if args[1].lower() != 'system':
        return Result('', WEVTUTIL_NO_CHANNEL, 15007)
    if env.host.faults.get('events_access_denied'):
        return Result('', WEVTUTIL_ACCESS_DENIED, 5)
    options = {'q': '*', 'c': None, 'rd': 'false', 'f': 'text', 'e': None}
    for arg in args[2:]:
        match = re.match(r'/(\w+)(?::(.*))?$', arg, re.S)
        if not match or match.group(1).lower() not in ('q', 'query', 'c', 'count', 'rd', 'reversedirection',
                                                       'f', 'format', 'e', 'element'):
            return Result('', 'The parameter is incorrect.\r\n', 87)
        name = {'query': 'q', 'count': 'c', 'reversedirection': 'rd', 'format': 'f', 'element': 'e'}.get(
            match.group(1).lower(), match.group(1).lower())
        options[name] = match.group(2) if match.group(2) is not None else 'true'
    try:
        query = XPathFilter(options['q'])
    except (XPathError, ValueError):
        return Result('', 'Failed to read events. The specified query is invalid.\r\n', 15001)
    fmt = options['f'].lower()
    if fmt not in ('xml', 'text', 'renderedxml'):
        return Result('', 'The parameter is incorrect.\r\n', 87)
    env.host.tick()
    now = utcnow()
    with env.host.lock:
        events = [event for event in env.host.events if query.test(event, now)]
    if options['rd'].lower() == 'true':
        events.reverse()
    if options['c'] is not None:
        try:
            events = events[:int(options['c'])]
        except ValueError:
            return Result('', 'The parameter is incorrect.\r\n', 87)
    if fmt == 'text':
        language = getattr(env.host, 'language', 'en-US')
        return Result(''.join(event_text(index, event, language) for index, event in enumerate(events)))
    body = ''.join(event_xml(event) + '\r\n' for event in events)
    if options['e']:
        body = '<%s>\r\n%s</%s>\r\n' % (options['e'], body, options['e'])
    return Result(body)


# -- powershell.exe: the GroupPolicy subset -----------------------------------------------
def decode_clixml_lines(text):
    return re.sub(r'_x000D__x000A_', '', ' '.join(re.findall(r'<S S="Error">(.*?)</S>', text, re.S)))


def clixml_error(lines):
    """stderr of powershell.exe over WinRM: '#< CLIXML' and one <S S="Error"> per line."""
    escape = xml.sax.saxutils.escape
    parts = ''.join('<S S="Error">%s_x000D__x000A_</S>' % escape(line) for line in lines)
    return '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">%s</Objs>' % parts


class PsError(Exception):
    def __init__(self, cmdlet, message, category, fqid, statement, column):
        super().__init__(message)
        self.lines = ['%s : %s' % (cmdlet, message),
                      'At line:1 char:%d' % column,
                      '+ %s' % statement,
                      '+ %s%s' % (' ' * (column - 1), '~' * len(cmdlet)),
                      '    + CategoryInfo          : %s' % category,
                      '    + FullyQualifiedErrorId : %s' % fqid,
                      ' ']


# PowerShell's tokenizer takes all of these as quotes (CharExtensions.IsSingleQuote / IsDoubleQuote), not only
# the ASCII ones: a single-quoted string ends at any single quote not doubled.
PS_SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
PS_DOUBLE_QUOTES = '"\u201c\u201d\u201e'


def ps_scan(text):
    """``[(kind, raw, value)]``: kind 'single'/'double' for string literals (value unquoted), 'char' otherwise."""
    items = []
    index = 0
    while index < len(text):
        char = text[index]
        if char in PS_SINGLE_QUOTES:
            value, raw, index = '', char, index + 1
            while index < len(text):
                if text[index] in PS_SINGLE_QUOTES:
                    if index + 1 < len(text) and text[index + 1] in PS_SINGLE_QUOTES:
                        value += text[index + 1]
                        raw += text[index:index + 2]
                        index += 2
                        continue
                    raw += text[index]
                    index += 1
                    break
                value += text[index]
                raw += text[index]
                index += 1
            items.append(('single', raw, value))
        elif char in PS_DOUBLE_QUOTES:
            value, raw, index = '', char, index + 1
            while index < len(text):
                if text[index] == '`' and index + 1 < len(text):
                    value += text[index + 1]
                    raw += text[index:index + 2]
                    index += 2
                    continue
                raw += text[index]
                index += 1
                if raw[-1] in PS_DOUBLE_QUOTES:
                    break
                value += raw[-1]
            items.append(('double', raw, value))
        else:
            items.append(('char', char, char))
            index += 1
    return items


def ps_split(text, separators):
    """``text`` cut at the unquoted ``separators`` (statements at ; and newlines, pipeline elements at |)."""
    parts, current = [], ''
    for kind, raw, _value in ps_scan(text):
        if kind == 'char' and raw in separators:
            parts.append(current.strip())
            current = ''
        else:
            current += raw
    parts.append(current.strip())
    return parts


def ps_split_statements(script):
    return [statement for statement in ps_split(script, ';\n') if statement and not statement.startswith('#')]


def ps_words(statement):
    words, current, started = [], '', False
    for kind, raw, value in ps_scan(statement):
        if kind == 'char' and raw.isspace():
            if started:
                words.append(current)
            current, started = '', False
        else:
            current += value if kind != 'char' else raw
            started = True
    if started:
        words.append(current)
    return words


def ps_parameters(words):
    params = {}
    index = 1
    positional = []
    while index < len(words):
        word = words[index]
        if word.startswith('-') and len(word) > 1 and not re.match(r'-\d', word):
            name = word[1:].rstrip(':').lower()
            if index + 1 < len(words) and not (words[index + 1].startswith('-') and not re.match(r'-\d', words[index + 1])):
                params[name] = words[index + 1]
                index += 2
            else:
                params[name] = True
                index += 1
        else:
            positional.append(word)
            index += 1
    return params, positional


GP_KEY_ROOTS = {'hklm': 'HKEY_LOCAL_MACHINE', 'hkey_local_machine': 'HKEY_LOCAL_MACHINE',
                'hkcu': 'HKEY_CURRENT_USER', 'hkey_current_user': 'HKEY_CURRENT_USER'}


def ps_date(moment):
    local = moment.astimezone(datetime.timezone.utc)
    hour = local.hour % 12 or 12
    return '%d/%d/%d %d:%02d:%02d %s' % (local.month, local.day, local.year, hour, local.minute, local.second,
                                         'AM' if local.hour < 12 else 'PM')


def format_list(rows):
    width = max(len(name) for name, _value in rows)
    return '\r\n' + ''.join(('%s : %s' % (name.ljust(width), value)).rstrip() + '\r\n' for name, value in rows) + '\r\n\r\n'


def gpo_rows(gpo):
    return [('DisplayName', gpo.name), ('DomainName', '%s.local' % gpo.domain.lower()),
            ('Owner', '%s\\Domain Admins' % gpo.domain), ('Id', gpo.id), ('GpoStatus', 'AllSettingsEnabled'),
            ('Description', ''), ('CreationTime', ps_date(gpo.created)), ('ModificationTime', ps_date(gpo.modified)),
            ('UserVersion', 'AD Version: 0, SysVol Version: 0'),
            ('ComputerVersion', 'AD Version: %d, SysVol Version: %d' % (gpo.version, gpo.version)),
            ('WmiFilter', '')]


# Get-WmiObject (PowerShell 2.0; WMI itself stays when wmic.exe is removed) for the OS class, as a list.
WMI_QUERY = re.compile(r'^(?:Get-WmiObject|gwmi)\s+(?:-Class\s+)?Win32_OperatingSystem\s*'
                       r'\|\s*(?:Format-List|fl)\s+(?:-Property\s+)?([\w, ]+)$', re.I)


def wmi_os_list(properties, host):
    rows = []
    for prop in (part.strip() for part in properties.split(',')):
        entry = WMIC_OS.get(prop.lower())
        if entry is None:
            continue  # Format-List skips a property the object lacks
        rows.append((entry[0], entry[1](host).strip()))
    return format_list(rows) if rows else ''


def powershell(script, env):
    host = env.host
    out = ''
    errors = []
    last_failed = False
    modules = set()
    for statement in ps_split_statements(script):
        discard = False
        piped = re.match(r'(.*?)\s*\|\s*Out-Null\s*$', statement, re.I)
        if piped:
            statement, discard = piped.group(1), True
        if statement.lower().startswith('$null = '):
            statement, discard = statement[8:].strip(), True
        wmi = WMI_QUERY.match(statement)
        if wmi:
            out += '' if discard else wmi_os_list(wmi.group(1), host)
            continue
        pipeline = [element for element in ps_split(statement, '|') if element]
        if len(pipeline) > 1:
            # Each element runs (objects are not passed on, which no script of the collection relies on).
            for element in pipeline[1:]:
                result = powershell(("$ErrorActionPreference = 'Stop'\n" if 'stop' in script.lower() else '')
                                    + 'Import-Module GroupPolicy\n' * ('grouppolicy' in modules) + element, env)
                out += '' if discard else result.stdout
                if result.stderr:
                    errors.append(decode_clixml_lines(result.stderr))
            statement = pipeline[0]
        words = ps_words(statement)
        name = words[0]
        lowered = name.lower()
        params, positional = ps_parameters(words)
        column = 1
        try:
            last_failed = False
            if lowered == 'import-module':
                module = (params.get('name') or (positional[0] if positional else '')).lower()
                if module != 'grouppolicy' or not getattr(host, 'is_dc', False):
                    raise PsError('Import-Module', "The specified module '%s' was not loaded because no valid module "
                                  "file was found in any module directory." % (params.get('name') or positional[0]),
                                  'ResourceUnavailable: (%s:String) [Import-Module], FileNotFoundException'
                                  % (params.get('name') or positional[0]),
                                  'Modules_ModuleNotFound,Microsoft.PowerShell.Commands.ImportModuleCommand',
                                  statement, column)
                modules.add(module)
            elif lowered in ('get-gpo', 'get-gpregistryvalue', 'set-gpregistryvalue', 'remove-gpregistryvalue',
                             'remove-gpo'):
                if 'grouppolicy' not in modules:
                    raise PsError(name, "The term '%s' is not recognized as the name of a cmdlet, function, script "
                                  "file, or operable program. Check the spelling of the name, or if a path was "
                                  "included, verify that the path is correct and try again." % name,
                                  'ObjectNotFound: (%s:String) [], CommandNotFoundException' % name,
                                  'CommandNotFoundException', statement, column)
                text = gp_cmdlet(lowered, name, params, positional, env, statement)
                out += '' if discard else text
            elif lowered in ('$erroractionpreference', '$progresspreference'):
                pass
            elif lowered == 'exit':
                code = int(positional[0]) if positional else 0
                return Result(out, clixml_error(errors) if errors else '', code)
            else:
                raise PsError(name, "The term '%s' is not recognized as the name of a cmdlet, function, script file, "
                              "or operable program. Check the spelling of the name, or if a path was included, verify "
                              "that the path is correct and try again." % name,
                              'ObjectNotFound: (%s:String) [], CommandNotFoundException' % name,
                              'CommandNotFoundException', statement, column)
        except PsError as error:
            errors.extend(error.lines)
            last_failed = True
            if "$erroractionpreference = 'stop'" in script.lower() or '$erroractionpreference = "stop"' in script.lower():
                break
    return Result(out, clixml_error(errors) if errors else '', 1 if last_failed else 0)


def gp_cmdlet(lowered, name, params, positional, env, statement):
    fleet = env.fleet
    gpo_name = params.get('name') or params.get('displayname') or (positional[0] if positional else None)
    if not gpo_name or gpo_name is True:
        raise PsError(name, "Cannot validate argument on parameter 'Name'. The argument is null or empty.",
                      'InvalidData: (:) [%s], ParameterBindingValidationException' % name,
                      'ParameterArgumentValidationError,Microsoft.GroupPolicy.Commands.%sCommand' % name.replace('-', ''),
                      statement, 1)
    gpo = fleet.find_gpo(gpo_name)
    domain = '%s.local' % fleet.domain.lower()
    if gpo is None:
        raise PsError(name, 'A GPO with the name "%s" could not be found in the %s domain.' % (gpo_name, domain),
                      'ObjectNotFound: (Microsoft.Group...ommands.%s:%s) [%s], ArgumentException' % (
                          name.replace('-', ''), name.replace('-', ''), name),
                      'GpoWithNameNotFound,Microsoft.GroupPolicy.Commands.%sCommand' % name.replace('-', ''),
                      statement, 1)
    if lowered == 'get-gpo':
        return format_list(gpo_rows(gpo))
    if lowered == 'remove-gpo':
        # What an injected command would do to a real domain (the GPO and its links are gone).
        with fleet.lock:
            fleet.gpos.pop(gpo.name.lower(), None)
        return ''
    key = params.get('key')
    value_name = params.get('valuename')
    if not key or key is True or not value_name or value_name is True:
        raise PsError(name, 'The Key and ValueName parameters are required by this emulation.',
                      'InvalidArgument: (:) [%s], ParameterBindingException' % name,
                      'MissingArgument,Microsoft.GroupPolicy.Commands.%sCommand' % name.replace('-', ''), statement, 1)
    root, _sep, rest = key.partition('\\')
    if root.lower() not in GP_KEY_ROOTS:
        raise PsError(name, 'The registry key "%s" is not valid. Specify HKLM or HKCU.' % key,
                      'InvalidArgument: (:) [%s], ArgumentException' % name,
                      'InvalidKey,Microsoft.GroupPolicy.Commands.%sCommand' % name.replace('-', ''), statement, 1)
    full = GP_KEY_ROOTS[root.lower()] + '\\' + rest
    slot = (full.lower(), value_name.lower())
    host = env.host
    with fleet.lock:
        current = gpo.values.get(slot)
        if lowered == 'get-gpregistryvalue':
            if current is None:
                raise PsError(name, 'The following Group Policy registry setting was not found: "%s ValueName=%s".'
                              % (full, value_name),
                              'InvalidArgument: (Microsoft.Group...ValueCommand:GetGPRegistryValueCommand) '
                              '[Get-GPRegistryValue], ArgumentException',
                              'UnableToRetrievePolicyRegistryItem,Microsoft.GroupPolicy.Commands.GetGPRegistryValueCommand',
                              statement, 1)
            stored_key, stored_name, value_type, value = current
            hive = 'LocalMachine' if stored_key.startswith('HKEY_LOCAL_MACHINE') else 'CurrentUser'
            return format_list([('KeyPath', stored_key.split('\\', 1)[1]), ('FullKeyPath', stored_key),
                                ('Hive', hive), ('PolicyState', 'Set'), ('Value', str(value)),
                                ('Type', value_type), ('ValueName', stored_name), ('HasValue', 'True')])
        if host.faults.get('access_denied'):
            raise PsError(name, 'Access is denied. (Exception from HRESULT: 0x80070005 (E_ACCESSDENIED))',
                          'NotSpecified: (:) [%s], UnauthorizedAccessException' % name,
                          'System.UnauthorizedAccessException,Microsoft.GroupPolicy.Commands.%sCommand'
                          % name.replace('-', ''), statement, 1)
        if lowered == 'set-gpregistryvalue':
            value_type = params.get('type')
            value = params.get('value')
            if not isinstance(value_type, str) or value_type.lower() not in ('dword', 'string', 'qword'):
                raise PsError(name, 'The emulation supports -Type DWord, QWord and String.',
                              'InvalidArgument: (:) [Set-GPRegistryValue], ParameterBindingException',
                              'CannotConvertArgumentNoMessage,Microsoft.GroupPolicy.Commands.SetGPRegistryValueCommand',
                              statement, 1)
            value_type = {'dword': 'DWord', 'qword': 'QWord', 'string': 'String'}[value_type.lower()]
            if value_type != 'String':
                try:
                    value = int(value, 0)
                except (TypeError, ValueError):
                    raise PsError(name, "Cannot bind parameter 'Value'. Cannot convert value \"%s\" to type "
                                  "\"System.Int32\"." % value,
                                  'InvalidArgument: (:) [Set-GPRegistryValue], ParameterBindingException',
                                  'CannotConvertArgumentNoMessage,Microsoft.GroupPolicy.Commands.SetGPRegistryValueCommand',
                                  statement, 1) from None
            gpo.values[slot] = (full, value_name, value_type, value)
            gpo.version += 1
            gpo.modified = utcnow()
            return format_list(gpo_rows(gpo))
        # remove-gpregistryvalue
        if current is None:
            raise PsError(name, 'The following Group Policy registry setting was not found: "%s ValueName=%s".'
                          % (full, value_name),
                          'InvalidArgument: (Microsoft.Group...ValueCommand:RemoveGPRegistryValueCommand) '
                          '[Remove-GPRegistryValue], ArgumentException',
                          'UnableToRemovePolicyRegistryItem,Microsoft.GroupPolicy.Commands.RemoveGPRegistryValueCommand',
                          statement, 1)
        del gpo.values[slot]
        gpo.version += 1
        gpo.modified = utcnow()
        return format_list(gpo_rows(gpo))
