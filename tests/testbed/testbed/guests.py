# Private to this repository's tests, demo and benchmarks.
"""The VMs the vCenter simulator puts on each host (tests/testbed/vcsim/vms.go reads them).

Every host booted ``HOST_BOOT_SECONDS_AGO`` ago. Per host, the VMs cycle through ``PATTERN``:
a Windows server booted two hours ago on this host (Tools time sync off, as Microsoft advises
for domain members), a Linux VM that booted a day before the host did (it came by vMotion, so
it did not boot with this host's clock; Tools time sync on), and a powered-off Windows VM.
"""

HOST_BOOT_SECONDS_AGO = 10 * 86400.0
PATTERN = (
    dict(guest_id='windows2019srv_64Guest', guest_os='Microsoft Windows Server 2019 (64-bit)', powered_on=True,
         boot_seconds_ago=2 * 3600.0, tools_time_sync=False),
    dict(guest_id='ubuntu64Guest', guest_os='Ubuntu Linux (64-bit)', powered_on=True,
         boot_seconds_ago=HOST_BOOT_SECONDS_AGO + 86400.0, tools_time_sync=True),
    dict(guest_id='windows9Server64Guest', guest_os='Microsoft Windows Server 2016 or later (64-bit)', powered_on=False,
         boot_seconds_ago=0.0, tools_time_sync=False),
)


def guests(hosts, vms_per_host):
    """The ``-vms-file`` content for ``hosts`` (names), ``vms_per_host`` VMs each."""
    vms = []
    for host in hosts:
        for index in range(vms_per_host):
            vm = dict(PATTERN[index % len(PATTERN)])
            vm.update(name='%s_VM%d' % (host, index), host=host)
            vms.append(vm)
    return {'host_boot_seconds_ago': HOST_BOOT_SECONDS_AGO, 'vms': vms}
