# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """Connection options of the WinRM modules (paired with _winrm.winrm_argument_spec)."""

    # Standard documentation fragment
    DOCUMENTATION = r'''
options:
  winrm_host:
    description:
      - The Windows host to connect to with WinRM.
      - When not set, the action plugin uses the task host's C(ansible_host) (or its inventory name).
    type: str
  winrm_port:
    description:
      - The WinRM port.
      - When not set, the task host's C(ansible_port), then V(5986) for HTTPS and V(5985) for HTTP.
    type: int
  winrm_user:
    description:
      - The account to log in with, for NTLM as C(DOMAIN\\user) or C(user@domain).
      - When not set, the task host's C(ansible_user), then the user of C(ansible-playbook -u) or the play's
        C(remote_user) (how AWX passes a Machine credential).
    type: str
  winrm_password:
    description:
      - The password of O(winrm_user).
      - When not set, the task host's C(ansible_password), then the password given to C(ansible-playbook --ask-pass)
        (how AWX passes a Machine credential).
    type: str
  winrm_transport:
    description:
      - The authentication to use.
      - V(kerberos) and V(credssp) need the C(pykerberos) or C(requests-credssp) Python libraries on the controller.
      - With V(kerberos), O(winrm_user) is the principal (C(user@REALM)); with a password the controller gets a
        ticket for it with C(kinit) into a cache of its own (removed at the end), without one it uses the
        ticket the controller already holds (C(kinit) beforehand, C(KRB5CCNAME)). The realm's KDC comes from
        the controller's C(krb5.conf) (or C(KRB5_CONFIG)).
      - V(certificate) needs O(winrm_cert_pem) and O(winrm_cert_key_pem) and HTTPS.
      - When not set, the task host's C(ansible_winrm_transport) (its first entry when it is a list).
    type: str
    choices: [ntlm, kerberos, credssp, basic, certificate]
    default: ntlm
  winrm_scheme:
    description:
      - V(https) (port 5986) or V(http) (port 5985).
      - When not set, the task host's C(ansible_winrm_scheme).
    type: str
    choices: [https, http]
    default: https
  winrm_server_cert_validation:
    description:
      - Whether to validate the host's TLS certificate. Set V(ignore) only for a host you trust.
      - When not set, the task host's C(ansible_winrm_server_cert_validation).
    type: str
    choices: [validate, ignore]
    default: validate
  winrm_ca_trust_path:
    description:
      - A PEM file (or directory) with the CA certificates that signed the hosts' WinRM certificates.
      - When not set, the task host's C(ansible_winrm_ca_trust_path), then the system's trust store.
    type: path
  winrm_cert_pem:
    description:
      - The client certificate (PEM) for O(winrm_transport=certificate).
    type: path
  winrm_cert_key_pem:
    description:
      - The private key (PEM) of O(winrm_cert_pem).
    type: path
  winrm_message_encryption:
    description:
      - Encrypt the WinRM messages themselves (with ntlm, kerberos or credssp).
      - V(auto) encrypts over HTTP and relies on TLS over HTTPS; V(always) encrypts over both; V(never) never does.
      - When not set, the task host's C(ansible_winrm_message_encryption).
    type: str
    choices: [auto, always, never]
    default: auto
  winrm_operation_timeout:
    description:
      - Seconds the host may take to answer one WinRM operation (the WS-Management OperationTimeout).
      - A command still running when it passes is not a failure. Windows then answers C(w:TimedOut), meaning
        that there is no output yet, and the output is asked for again until the task's own C(timeout) (the
        task keyword), or 15 minutes when the task sets none; only then does the command fail.
      - When not set, the task host's C(ansible_winrm_operation_timeout_sec).
    type: int
    default: 20
  winrm_read_timeout:
    description:
      - Seconds to wait for an HTTP answer; must be longer than O(winrm_operation_timeout).
      - When not set, the task host's C(ansible_winrm_read_timeout_sec).
    type: int
    default: 30
  winrm_kerberos_hostname_override:
    description:
      - The host name Kerberos asks a ticket for (the service principal C(HTTP/<name>)), when the host is
        reached at an address or alias that is not its name, for example O(winrm_host=10.0.0.5) for C(ex01.corp.example).
      - When not set, the task host's C(ansible_winrm_kerberos_hostname_override), then the host WinRM connects to.
    type: str
  winrm_allow_insecure:
    description:
      - Allow O(winrm_transport=basic) over O(winrm_scheme=http), which sends the password in clear text.
    type: bool
    default: false
requirements:
  - pywinrm
notes:
  - These modules run on the Ansible controller (no Python is needed on Windows) and take the
    connection from the task host's usual WinRM variables; explicit options win over them.
  - All options of this fragment can be set once for every module of the collection with the
    C(fleetfix.remediate.winrm) action group in C(module_defaults).
'''
