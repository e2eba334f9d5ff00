# Private to this repository's tests, demo and benchmarks.
"""A cmd.exe subset and the Windows tools the collection uses, run against a model Host.

What is emulated, with output formats and exit codes, is documented in COMMANDS.md.
Every tool returns ``(stdout, stderr, exit_code)`` as text with CRLF line ends; the server
encodes it in the OEM code page (cp437).
"""

import base64
import re

from winrm_peer import tools
from winrm_peer.tools import Result

NOT_RECOGNIZED = "'%s' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n"
OPERATORS = ('&&', '||', '&', '|')


class Env:
    """What one command line runs with: the host, the fleet, the user, ERRORLEVEL."""

    def __init__(self, host, fleet, user, errorlevel=0, delayed=False):
        # Whether stdin is redirected (``< NUL``) for the command running now: over WinRM a tool that reads
        # its console input (wmic) otherwise waits for input that never comes.
        self.stdin_redirected = False
        self.host = host
        self.fleet = fleet
        self.user = user
        self.errorlevel = errorlevel
        self.delayed = delayed

    def variables(self):
        return {
            'ERRORLEVEL': str(self.errorlevel),
            'COMPUTERNAME': self.host.name.upper(),
            'USERNAME': self.user.split('\\')[-1],
            'USERDOMAIN': self.host.domain,
            'SYSTEMROOT': 'C:\\Windows',
            'WINDIR': 'C:\\Windows',
            'OS': 'Windows_NT',
        }


def expand_percent(line, env):
    """%VAR% expansion as cmd does it once, when the line is read (unknown names stay as they are)."""
    variables = env.variables()

    def replace(match):
        name = match.group(1)
        if name == '':
            return '%'
        return variables.get(name.upper(), match.group(0))
    return re.sub(r'%([^%\s]*)%', replace, line)


def expand_delayed(text, env):
    variables = env.variables()
    return re.sub(r'!([^!\s]+)!', lambda match: variables.get(match.group(1).upper(), ''), text)


# -- parsing ------------------------------------------------------------------------------
class Simple:
    def __init__(self, text, redirects):
        self.text = text
        self.redirects = redirects


class Group:
    def __init__(self, sequence, redirects):
        self.sequence = sequence
        self.redirects = redirects


class ParseError(Exception):
    pass


def tokenize(line):
    """Split into words (raw text) and operators, honouring double quotes and ^ escapes."""
    tokens = []
    current = ''
    index = 0
    in_quotes = False
    while index < len(line):
        char = line[index]
        if in_quotes:
            current += char
            if char == '"':
                in_quotes = False
            index += 1
            continue
        if char == '"':
            in_quotes = True
            current += char
            index += 1
            continue
        if char == '^' and index + 1 < len(line):
            current += line[index + 1]
            index += 2
            continue
        two = line[index:index + 2]
        if two in ('&&', '||'):
            tokens.append(('word', current))
            tokens.append(('op', two))
            current = ''
            index += 2
            continue
        if char == '&' and current.endswith('>'):
            current += char  # 2>&1
            index += 1
            continue
        if char in '&|()':
            tokens.append(('word', current))
            tokens.append(('op', char))
            current = ''
            index += 1
            continue
        current += char
        index += 1
    tokens.append(('word', current))
    return [token for token in tokens if token[0] == 'op' or token[1].strip()]


REDIRECT = re.compile(r'(?:(?<=\s)|^)([012]?)(>>?|<)\s*(&[12]|"[^"]*"|[^\s"]+)')


def split_redirects(text):
    redirects = []

    def grab(match):
        stream = '0' if match.group(2) == '<' else (match.group(1) or '1')
        redirects.append((stream, match.group(3)))
        return ''
    # quoted parts never hold redirections
    parts = re.split(r'("[^"]*"?)', text)
    cleaned = ''.join(part if part.startswith('"') else REDIRECT.sub(grab, part) for part in parts)
    return cleaned, redirects


def parse(line):
    tokens = tokenize(line)
    position = [0]

    def peek():
        return tokens[position[0]] if position[0] < len(tokens) else None

    def take():
        token = peek()
        position[0] += 1
        return token

    def sequence(closing):
        items = []  # list of (operator_before, node)
        operator = None
        while True:
            token = peek()
            if token is None:
                if closing:
                    raise ParseError('( was unexpected at this time.')
                break
            if token == ('op', ')'):
                if not closing:
                    # cmd treats a stray ) at top level as text; be strict instead
                    raise ParseError(') was unexpected at this time.')
                take()
                break
            if token[0] == 'op' and token[1] != '(':
                raise ParseError('%s was unexpected at this time.' % token[1])
            if token == ('op', '('):
                take()
                inner = sequence(True)
                trailing = ''
                if peek() and peek()[0] == 'word':
                    trailing = take()[1]
                _rest, redirects = split_redirects(trailing)
                node = Group(inner, redirects)
            else:
                text, redirects = split_redirects(take()[1])
                node = Simple(text, redirects)
            items.append((operator, node))
            token = peek()
            if token is None or token == ('op', ')'):
                continue
            if token[0] == 'op' and token[1] in ('&&', '||', '&', '|'):
                operator = take()[1]
                if operator == '|':
                    raise ParseError('pipes are not emulated')
                if peek() is None:
                    if operator == '&':
                        break
                    raise ParseError('The syntax of the command is incorrect.')
                continue
        return items
    return sequence(False)


# -- running ------------------------------------------------------------------------------
def run_line(line, env):
    """Run one cmd.exe command line; return a Result with the combined streams."""
    line = expand_percent(line, env)
    try:
        items = parse(line)
    except ParseError as error:
        return Result('', str(error) + '\r\n', 255)
    return run_sequence(items, env)


def run_sequence(items, env):
    out, err = [], []
    last = None
    for operator, node in items:
        if operator == '&&' and last is not None and last.code != 0:
            continue
        if operator == '||' and last is not None and last.code == 0:
            continue
        outer_stdin = env.stdin_redirected
        env.stdin_redirected = outer_stdin or any(stream == '0' for stream, _target in node.redirects)
        try:
            if isinstance(node, Group):
                result = run_sequence(node.sequence, env)
            else:
                result = run_simple(node.text, env)
        finally:
            env.stdin_redirected = outer_stdin
        hangs = result.hangs
        result = apply_redirects(result, node.redirects)
        if hangs:
            # The tool waits for console input: nothing after it runs, the command never ends.
            out.append(result.stdout)
            err.append(result.stderr)
            hung = Result(''.join(out), ''.join(err), 259)
            hung.hangs = True
            return hung
        out.append(result.stdout)
        err.append(result.stderr)
        last = result
    code = env.errorlevel if last is None else last.code
    return Result(''.join(out), ''.join(err), code)


def apply_redirects(result, redirects):
    for stream, target in redirects:
        if stream == '0':
            continue
        if target == '&1' and stream == '2':
            result = Result(result.stdout + result.stderr, '', result.code)
        elif target == '&2' and stream == '1':
            result = Result('', result.stderr + result.stdout, result.code)
        elif target.strip('"').lower() in ('nul', 'nul:'):
            if stream == '1':
                result = Result('', result.stderr, result.code)
            else:
                result = Result(result.stdout, '', result.code)
        else:
            result = Result(result.stdout, result.stderr + 'Access is denied.\r\n', 1)
    return result


def split_args(text):
    """Windows argument splitting (CommandLineToArgvW, quotes removed)."""
    args = []
    current = ''
    in_quotes = False
    started = False
    for char in text:
        if char == '"':
            in_quotes = not in_quotes
            started = True
        elif char in ' \t' and not in_quotes:
            if started:
                args.append(current)
            current = ''
            started = False
        else:
            current += char
            started = True
    if started:
        args.append(current)
    return args


def run_simple(text, env):
    if env.delayed:
        text = expand_delayed(text, env)
    stripped = text.lstrip(' \t@')
    lowered = stripped.lower()
    if lowered == 'echo.' or lowered.startswith('echo.'):
        result = Result(stripped[5:] + '\r\n', '', env.errorlevel)
    elif lowered == 'echo':
        result = Result('ECHO is on.\r\n', '', env.errorlevel)
    elif lowered.startswith('echo ') or lowered.startswith('echo\t'):
        result = Result(stripped[5:] + '\r\n', '', env.errorlevel)
    else:
        args = split_args(stripped)
        if not args:
            return Result('', '', env.errorlevel)
        program = args[0].lower()
        for suffix in ('.exe', '.com'):
            if program.endswith(suffix):
                program = program[:-len(suffix)]
        program = re.sub(r'^.*[\\/]', '', program)
        handler = COMMANDS.get(program)
        if program == 'wmic' and not getattr(env.host, 'wmic', True):
            handler = None  # Windows Server 2025 ships without WMIC
        if handler is None:
            name = args[0]
            messages = tools.MESSAGES.get(getattr(env.host, 'language', 'en-US'), {})
            template = messages.get("'%s' is not recognized", NOT_RECOGNIZED)
            result = Result('', template % name, 9009)
        else:
            result = handler(args[1:], env, stripped)
    env.errorlevel = result.code
    return result


def run_cmd(args, env, raw):
    """cmd [/v:on] [/c|/k] line."""
    rest = raw.split(None, 1)[1] if len(raw.split(None, 1)) > 1 else ''
    delayed = env.delayed
    while True:
        rest = rest.lstrip()
        match = re.match(r'(/[a-zA-Z](?::\w+)?)(\s+|$)', rest)
        if not match:
            break
        switch = match.group(1).lower()
        rest = rest[match.end():]
        if switch in ('/v:on', '/v'):
            delayed = True
        elif switch == '/v:off':
            delayed = False
        elif switch in ('/c', '/k'):
            break
    line = rest.strip()
    if len(line) >= 2 and line.startswith('"') and line.endswith('"'):
        line = line[1:-1]
    inner = Env(env.host, env.fleet, env.user, env.errorlevel, delayed)
    return run_line(line, inner)


def run_hostname(args, env, raw):
    return Result(env.host.name.upper() + '\r\n')


def run_whoami(args, env, raw):
    return Result(env.user.lower() + '\r\n')


def run_ver(args, env, raw):
    return Result('\r\nMicrosoft Windows [Version %s]\r\n' % env.host.os['version'])


def run_exit(args, env, raw):
    code = 0
    for arg in args:
        if arg.lower() != '/b':
            try:
                code = int(arg)
            except ValueError:
                code = 0
    return Result('', '', code)


def visible_text(line):
    """The command line with any ``-EncodedCommand`` script decoded (what a slow_match fault is matched against)."""
    match = re.search(r'-(?:encodedcommand|enc|ec|e)\s+([A-Za-z0-9+/=]+)', line, re.I)
    if not match:
        return line
    try:
        return line + '\n' + base64.b64decode(match.group(1)).decode('utf-16-le')
    except ValueError:
        return line


def run_powershell(args, env, raw):
    script = None
    index = 0
    while index < len(args):
        arg = args[index].lower()
        if arg in ('-encodedcommand', '-enc', '-e', '-ec'):
            try:
                script = base64.b64decode(args[index + 1]).decode('utf-16-le')
            except (IndexError, ValueError):
                return Result('', 'Cannot process the command because the value specified with -EncodedCommand is '
                              'not properly encoded. The value must be Base64 encoded.\r\n', 1)
            index += 2
            continue
        if arg in ('-command', '-c'):
            script = ' '.join(args[index + 1:])
            break
        if arg in ('-noprofile', '-noninteractive', '-nologo', '-inputformat', '-outputformat'):
            index += 2 if arg in ('-inputformat', '-outputformat') else 1
            continue
        if arg == '-executionpolicy':
            index += 2
            continue
        index += 1
    if script is None:
        return Result('', 'powershell.exe: an interactive session is not emulated; pass -EncodedCommand.\r\n', 1)
    return tools.powershell(script, env)


COMMANDS = {
    'reg': tools.reg,
    'wevtutil': tools.wevtutil,
    'wmic': tools.wmic,
    'shutdown': tools.shutdown,
    'hostname': run_hostname,
    'whoami': run_whoami,
    'cmd': run_cmd,
    'exit': run_exit,
    'powershell': run_powershell,
    'ver': run_ver,
}
