#!/usr/bin/env bash
# CLI tests: the README's commands, determinism, bad input (one line, exit 2, no stdout), and
# the table of the machine the test runs on (its live `cpuid -r -1`, and KVM when present).
set -u
CVMM=$1
DATA=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

# expect_usage DESCRIPTION NEEDLE -- ARGS: exit 2, exactly one stderr line containing NEEDLE,
# nothing on stdout.
expect_usage() {
	local desc=$1 needle=$2
	shift 3
	# timeout: an input that blocks (a FIFO) fails the test instead of hanging it
	timeout 10 "$CVMM" "$@" >"$T/out" 2>"$T/err"
	local rc=$?
	if [ $rc -ne 2 ]; then bad "$desc: exit $rc, want 2"; return; fi
	if [ -s "$T/out" ]; then bad "$desc: wrote to stdout"; return; fi
	if [ "$(wc -l <"$T/err")" -ne 1 ]; then bad "$desc: stderr not one line: $(cat "$T/err")"; return; fi
	if ! grep -qF -- "$needle" "$T/err"; then bad "$desc: '$(cat "$T/err")' lacks '$needle'"; return; fi
	ok
}

SPR=$DATA/intel-sapphire-rapids.cpuid
printf '   0x0000000d 0x01: eax=0x0000000f ebx=0x00000988\n' >"$T/trunc.cpuid"
printf 'garbage\n' >"$T/garbage.cpuid"
printf '   0x0000000d 0x41: eax=0x1 ebx=0x0 ecx=0x0 edx=0x0\n' >"$T/range.cpuid"
: >"$T/empty.cpuid"
# cvmm run: every bad input is refused before KVM is touched (so these hold with or without
# /dev/kvm), and no metrics file appears.
G=$(dirname "$CVMM")/tests/cvmm-testguest.elf
printf 'not a kernel' >"$T/notkernel"
truncate -s 4096 "$T/oldbz"
printf 'HdrS' | dd of="$T/oldbz" bs=1 seek=514 conv=notrunc 2>/dev/null
printf '\x0b\x02' | dd of="$T/oldbz" bs=1 seek=518 conv=notrunc 2>/dev/null
expect_usage "run: no kernel" "--kernel FILE is required" -- run
expect_usage "run: --cpu is not taken for --cpus" "--cpu is not an option of run" -- \
	run --kernel /nonexistent --cpu 2
expect_usage "run: a repeated flag is named" "--features given twice" -- \
	run --kernel /nonexistent --features -avx2 --features -avx
expect_usage "run: missing kernel" "kernel '$T/nope': No such file" -- run --kernel "$T/nope"
expect_usage "run: not a kernel" "neither a bzImage" -- run --kernel "$T/notkernel"
expect_usage "run: old bzImage" "2.11 is too old" -- run --kernel "$T/oldbz"
expect_usage "run: directory as kernel" "not a regular file" -- run --kernel "$T"
expect_usage "run: shared object" "not an executable" -- run --kernel /lib/x86_64-linux-gnu/libc.so.6
expect_usage "run: missing initrd" "initrd '$T/nope'" -- run --kernel "$G" --initrd "$T/nope"
expect_usage "run: bad memory" "--memory '12Q'" -- run --kernel "$G" --memory 12Q
expect_usage "run: tiny memory" "at least 2M" -- run --kernel "$G" --memory 1M
expect_usage "run: huge memory" "at most 1T" -- run --kernel "$G" --memory 2T
expect_usage "run: odd memory" "multiple of 4K" -- run --kernel "$G" --memory 2097153
expect_usage "run: zero cpus" "--cpus '0'" -- run --kernel "$G" --cpus 0
expect_usage "run: too many cpus" "--cpus '255'" -- run --kernel "$G" --cpus 255
expect_usage "run: bad profile" "profile" -- run --kernel "$G" --profile sev
expect_usage "run: bad feature" "avx9" -- run --kernel "$G" --features -avx9
expect_usage "run: repeated flag" "--cpus given twice" -- run --kernel "$G" --cpus 1 --cpus 2
expect_usage "run: selftest without the sandbox" "--sandbox-selftest needs the sandbox" -- run --kernel "$G" --sandbox-selftest --no-sandbox
expect_usage "run: probe cache on and off" "--probe-cache and --no-probe-cache contradict each other" -- run --kernel "$G" --probe-cache /tmp --no-probe-cache
expect_usage "run: empty probe cache" "--probe-cache '': expected a directory" -- run --kernel "$G" --probe-cache ""
expect_usage "run: unknown flag" "unknown option '--turbo'" -- run --kernel "$G" --turbo
expect_usage "run: stray argument" "unexpected argument 'extra'" -- run --kernel "$G" extra
expect_usage "run: missing value" "--cmdline needs a value" -- run --kernel "$G" --cmdline
expect_usage "run: bad log format" "--log-format 'xml'" -- run --kernel "$G" --log-format xml
expect_usage "run: bad irqchip" "--irqchip 'off': expected split or kernel" -- run --kernel "$G" --irqchip off
expect_usage "run: irqchip twice" "--irqchip given twice" -- run --kernel "$G" --irqchip split --irqchip kernel
expect_usage "run: metrics interval too short" "--metrics-interval '0.05': expected seconds from 0.1" -- run --kernel "$G" --metrics "$T/m.json" --metrics-interval 0.05
expect_usage "run: metrics interval not a number" "--metrics-interval '5s'" -- run --kernel "$G" --metrics "$T/m.json" --metrics-interval 5s
expect_usage "run: metrics interval too long" "--metrics-interval '86401'" -- run --kernel "$G" --metrics "$T/m.json" --metrics-interval 86401
expect_usage "run: debug-exit port zero" "--debug-exit '0': expected an I/O port" -- run --kernel "$G" --debug-exit 0
expect_usage "run: debug-exit port not a number" "--debug-exit 'f4'" -- run --kernel "$G" --debug-exit f4
expect_usage "run: debug-exit on the UART" "--debug-exit 0x3f8: I/O ports of debug-exit overlap uart" -- run --kernel "$G" --debug-exit 0x3f8
expect_usage "run: debug-exit on the power register" "overlap power" -- run --kernel "$G" --debug-exit 0x5fe
expect_usage "run: metrics interval without a file" "--metrics-interval needs --metrics FILE" -- run --kernel "$G" --metrics-interval 1
expect_usage "run: metrics dir" "--metrics '$T/nodir/m.json'" -- run --kernel "$G" --metrics "$T/nodir/m.json"
# --metrics: only a new file or a regular file is written; anything else is refused before the
# guest runs (and before KVM), and left as it was.
mkdir "$T/mdir"
echo keep >"$T/mtarget"
ln -s "$T/mtarget" "$T/mlink"
ln -s "$T/nowhere.json" "$T/mdangling"
mkfifo "$T/mfifo"
expect_usage "run: metrics empty path" "--metrics '': the path is empty" -- run --kernel "$G" --metrics ""
expect_usage "run: metrics symlink" "--metrics '$T/mlink': it is a symbolic link" -- run --kernel "$G" --metrics "$T/mlink"
expect_usage "run: metrics dangling symlink" "it is a symbolic link" -- run --kernel "$G" --metrics "$T/mdangling"
expect_usage "run: metrics FIFO" "--metrics '$T/mfifo': it is a FIFO" -- run --kernel "$G" --metrics "$T/mfifo"
expect_usage "run: metrics directory" "--metrics '$T/mdir': it is a directory" -- run --kernel "$G" --metrics "$T/mdir"
expect_usage "run: metrics trailing slash" "names a directory" -- run --kernel "$G" --metrics "$T/mdir/"
expect_usage "run: metrics under a file" "'$T/mtarget' is not a directory" -- run --kernel "$G" --metrics "$T/mtarget/m.json"
expect_usage "run: metrics on proc" "directory '/proc/self' is on proc" -- run --kernel "$G" --metrics /proc/self/comm
if [ "$(id -u)" -eq 0 ]; then
	# As root, a device node made here (never /dev itself: a broken cvmm would replace it).
	mknod "$T/mnull" c 1 3
	expect_usage "run: metrics device" "--metrics '$T/mnull': it is a character device" -- run --kernel "$G" --metrics "$T/mnull"
	[ -c "$T/mnull" ] && ok || bad "run: the device node at --metrics was replaced"
fi
[ -L "$T/mlink" ] && [ -L "$T/mdangling" ] && [ ! -e "$T/nowhere.json" ] && [ -p "$T/mfifo" ] && [ -d "$T/mdir" ] &&
	[ "$(cat "$T/mtarget")" = keep ] && ok || bad "run: a refused --metrics path was changed"
# Input files that are not regular files are refused at once, by flag and path: a FIFO does not
# block the open, a directory or /dev/null is not read as an empty image.
mkfifo "$T/infifo"
mkdir "$T/indir"
for f in kernel initrd; do
	if [ $f = kernel ]; then pre=(run --kernel); else pre=(run --kernel "$G" --initrd); fi
	expect_usage "run: --$f FIFO" "--$f '$T/infifo': a FIFO, not a regular file" -- "${pre[@]}" "$T/infifo"
	expect_usage "run: --$f directory" "--$f '$T/indir': a directory, not a regular file" -- "${pre[@]}" "$T/indir"
	expect_usage "run: --$f /dev/null" "--$f '/dev/null': a character device, not a regular file" -- "${pre[@]}" /dev/null
	expect_usage "run: --$f -" "--$f '-': standard input is not supported" -- "${pre[@]}" - </dev/null
done
# Sizes are checked when the image is opened, before KVM: one line, exit 2, no probe notes.
# A bzImage (protocol 2.12, 64-bit, relocatable, 4 setup sectors) whose init_size is 256 MiB.
truncate -s 4096 "$T/bigbz"
put() { printf "$2" | dd of="$T/bigbz" bs=1 seek=$(($1)) conv=notrunc 2>/dev/null; }
put 0x1f1 '\x04'
put 0x202 'HdrS'
put 0x206 '\x0c\x02'
put 0x234 '\x01'
put 0x236 '\x01\x00'
put 0x260 '\x00\x00\x00\x10'
expect_fit() {
	expect_usage "$@"
	if grep -qiE 'probe|KVM|verdict' "$T/err"; then bad "$1: reached KVM: $(cat "$T/err")"; fi
}
expect_fit "run: kernel larger than --memory" "kernel needs guest RAM up to 0x10100000" -- run --kernel "$T/bigbz" --memory 64M
truncate -s 8M "$T/bigrd"
expect_fit "run: initrd larger than guest RAM" "initrd (8388608 bytes) does not fit" -- run --kernel "$G" --initrd "$T/bigrd" --memory 4M
expect_fit "run: cmdline too long" "--cmdline is 2048 bytes; this kernel takes at most 2047" -- run --kernel "$G" --cmdline "$(printf '%2048s' '')"
expect_fit "run: cmdline past bzImage default" "--cmdline is 256 bytes; this kernel takes at most 255" -- run --kernel "$T/bigbz" --memory 512M --cmdline "$(printf '%256s' '')"
# Exit 2 writes nothing: a refusal after --metrics was accepted leaves no file.
expect_usage "run: refused with metrics" "avx9" -- run --kernel "$G" --features -avx9 --metrics "$T/m2.json"
expect_usage "run: tiny memory with metrics" "at least 2M" -- run --kernel "$G" --memory 1M --metrics "$T/m2.json"
expect_usage "run: bad kernel with metrics" "neither a bzImage" -- run --kernel "$T/notkernel" --metrics "$T/m2.json"
if [ -e "$T/nodir" ] || [ -e "$T/m2.json" ] || ls "$T"/*.json.* >/dev/null 2>&1; then bad "run: a refused run left files behind"; else ok; fi

# Every table read refuses a FIFO (without blocking on it), a directory and a device by flag
# and path; '-' is standard input, which may be a pipe.
for sub in "cpuid show" "cpuid check" "msr show"; do
	expect_usage "$sub --from FIFO" "--from: $T/infifo: a FIFO, not a regular file" -- $sub --from "$T/infifo"
	expect_usage "$sub --from directory" "--from: $T/indir: a directory, not a regular file" -- $sub --from "$T/indir"
	expect_usage "$sub --from /dev/null" "--from: /dev/null: a character device, not a regular file" -- $sub --from /dev/null
	timeout 10 "$CVMM" $sub --from "$SPR" >"$T/pf" 2>&1
	rf=$?
	cat "$SPR" | timeout 10 "$CVMM" $sub --from - >"$T/pp" 2>&1
	rp=$?
	# the same output, but for the source's name in check's and msr show's first line
	sed -i "s|$SPR|-|" "$T/pf"
	[ $rf -eq $rp ] && [ -s "$T/pp" ] && cmp -s "$T/pf" "$T/pp" && ok || bad "$sub --from - from a pipe (exit $rp) differs from --from FILE (exit $rf)"
done
expect_usage "diff FIFO operand" "$T/infifo: a FIFO, not a regular file" -- cpuid diff "$SPR" "$T/infifo"
expect_usage "diff directory operand" "$T/indir: a directory, not a regular file" -- cpuid diff "$T/indir" "$SPR"
cat "$SPR" | timeout 10 "$CVMM" cpuid diff "$SPR" - >"$T/pp" 2>&1 && ok || bad "diff FILE - from a pipe: $(cat "$T/pp")"
expect_usage "missing file" "$T/nope: cannot open" -- cpuid show --from "$T/nope"
expect_usage "truncated line" "trunc.cpuid:1: truncated" -- cpuid show --from "$T/trunc.cpuid"
expect_usage "garbage" "garbage.cpuid:1: not a" -- cpuid check --from "$T/garbage.cpuid"
expect_usage "subleaf range" "subleaf 0x41 of leaf 0xd is out of range" -- cpuid show --from "$T/range.cpuid"
expect_usage "empty file" "empty file" -- cpuid show --from "$T/empty.cpuid"
expect_usage "unknown feature" "unknown feature 'avx1024'" -- cpuid show --from "$SPR" --features -avx1024
expect_usage "xcr0 unsupported" "--xcr0 0x80007: bits 0x80000 are not supported" -- cpuid show --from "$SPR" --xcr0 0x80007
expect_usage "xcr0 garbage" "--xcr0 'zz'" -- cpuid show --from "$SPR" --xcr0 zz
expect_usage "xss unsupported" "--xss 0x1" -- cpuid show --from "$SPR" --xss 0x1
expect_usage "cpus range" "--cpus '4097'" -- cpuid show --from "$SPR" --cpus 4097
expect_usage "cpus junk" "--cpus '2x'" -- cpuid show --from "$SPR" --cpus 2x
expect_usage "bad profile" "unknown profile 'sev'" -- cpuid show --from "$SPR" --profile sev
expect_usage "bad format" "--format 'xml'" -- cpuid show --from "$SPR" --format xml
expect_usage "unknown option" "unknown option '--frob'" -- cpuid show --frob
expect_usage "missing value" "needs a value" -- cpuid show --from
expect_usage "diff arity" "expected two files" -- cpuid diff "$SPR"
expect_usage "firecracker template" "template" -- cpuid show --from "$DATA/firecracker/t2.json"
expect_usage "unknown command" "unknown command" -- frobnicate
expect_usage "tdx on a partial dump" "--profile tdx: the source is a partial table" -- cpuid show --from "$DATA/intel-amx-host-leaf0d-partial.cpuid" --profile tdx
expect_usage "features twice" "--features given twice" -- cpuid show --from "$SPR" --features -pku --features -avx
expect_usage "profile twice" "--profile given twice" -- cpuid show --from "$SPR" --profile host --profile tdx
expect_usage "control characters" "unknown profile 'x\\ny'" -- cpuid show --from "$SPR" --profile $'x\ny'
expect_usage "cpus sign" "--cpus '+5'" -- cpuid show --from "$SPR" --cpus +5
expect_usage "short option" "unknown option '-x'" -- cpuid show -xyz
expect_usage "xss x87" "bits 0-1 (x87, SSE) are never supervisor state" -- cpuid show --from "$SPR" --xss 0x1
expect_usage "xcr0 on check" "--xcr0 0x80007" -- cpuid check --from "$SPR" --xcr0 0x80007

# --cpu N: CPU N of a pasted dump of several. The paste's CPU 1 is one line (leaf 0, EAX 1),
# written out here by hand; CPU 0 is the whole Sapphire Rapids dump.
PASTE2=$DATA/pasted-quoted-crlf-2cpu.cpuid
"$CVMM" cpuid show --from "$SPR" --format json >"$T/cpu0.json"
printf 'CPU:\n   0x00000000 0x00: eax=0x00000001 ebx=0x00000000 ecx=0x00000000 edx=0x00000000\n' >"$T/cpu1.cpuid"
"$CVMM" cpuid show --from "$PASTE2" --cpu 1 >"$T/c1" && cmp -s "$T/c1" "$T/cpu1.cpuid" && ok || bad "show --cpu 1: $(cat "$T/c1")"
"$CVMM" cpuid show --from "$PASTE2" --cpu 0 >"$T/c0" && "$CVMM" cpuid show --from "$SPR" >"$T/spr0" &&
	cmp -s "$T/c0" "$T/spr0" && ok || bad "show --cpu 0 is not the first CPU"
"$CVMM" cpuid check --from "$PASTE2" --cpu 1 >"$T/c1" 2>&1
rc=$?
[ $rc -ne 2 ] && grep -q '^skipped: leaf 1 feature rules' "$T/c1" && ok || bad "check --cpu 1 (exit $rc): $(head -3 "$T/c1")"
"$CVMM" cpuid check --from "$PASTE2" --cpu 0 >"$T/c0" 2>&1
grep -q '^skipped: leaf 1' "$T/c0" && bad "check --cpu 0 checked CPU 1" || ok
# diff: one --cpu picks the CPU of both files; this one's CPU 1 is the paste's, its CPU 0 not
{ printf 'CPU 0:\n   0x00000000 0x00: eax=0x00000002 ebx=0x00000000 ecx=0x00000000 edx=0x00000000\n'
  printf 'CPU 1:\n   0x00000000 0x00: eax=0x00000001 ebx=0x00000000 ecx=0x00000000 edx=0x00000000\n'; } >"$T/two.cpuid"
"$CVMM" cpuid diff --cpu 1 "$PASTE2" "$T/two.cpuid" >"$T/d" && [ ! -s "$T/d" ] && ok || bad "diff --cpu 1: $(cat "$T/d")"
"$CVMM" cpuid diff "$PASTE2" "$T/two.cpuid" >/dev/null
[ $? -eq 1 ] && ok || bad "diff without --cpu should compare CPU 0"
"$CVMM" msr show --from "$PASTE2" --cpu 1 >/dev/null 2>&1
[ $? -ne 2 ] && ok || bad "msr show --cpu 1 refused"
for sub in "cpuid show" "cpuid check" "msr show"; do
	expect_usage "$sub --cpu 5" "--from: $PASTE2:81: no CPU 5: the input holds 2 CPUs, CPU 0 to 1" -- $sub --from "$PASTE2" --cpu 5
	expect_usage "$sub --cpu on JSON" "no CPU 1: a cvmm JSON table holds one CPU (CPU 0)" -- $sub --from "$T/cpu0.json" --cpu 1
	expect_usage "$sub --cpu not a number" "--cpu 'one': expected a CPU of the dump, a number from 0 to 65535" -- $sub --from "$PASTE2" --cpu one
	expect_usage "$sub --cpu negative" "--cpu '-1'" -- $sub --from "$PASTE2" --cpu -1
	expect_usage "$sub --cpu huge" "--cpu '4294967296'" -- $sub --from "$PASTE2" --cpu 4294967296
	expect_usage "$sub --cpu without --from" "--cpu picks a CPU of a dump: it needs --from FILE" -- $sub --cpu 1
	expect_usage "$sub --cpu twice" "--cpu given twice" -- $sub --from "$PASTE2" --cpu 1 --cpu 1
done
# the README's way to compare two CPUs of one dump: they differ in the APIC ID, leaf 1 EBX[31:24]
{ printf 'CPU 0:\n   0x00000001 0x00: eax=0x00a00f11 ebx=0x00100800 ecx=0x7ef8320b edx=0x178bfbff\n'
  printf 'CPU 1:\n   0x00000001 0x00: eax=0x00a00f11 ebx=0x01100800 ecx=0x7ef8320b edx=0x178bfbff\n'; } >"$T/apic.cpuid"
"$CVMM" cpuid show --from "$T/apic.cpuid" --cpu 1 >"$T/apic1.cpuid"
"$CVMM" cpuid diff "$T/apic.cpuid" "$T/apic1.cpuid" >"$T/d"
[ $? -eq 1 ] && [ "$(cat "$T/d")" = "0x00000001 0x00 ebx: 0x00100800 -> 0x01100800" ] && ok || bad "diff of CPU 0 and CPU 1: $(cat "$T/d")"
expect_usage "diff --cpu 5" "$PASTE2:81: no CPU 5" -- cpuid diff --cpu 5 "$PASTE2" "$PASTE2"
expect_usage "diff --cpu huge" "--cpu '99999'" -- cpuid diff --cpu 99999 "$PASTE2" "$PASTE2"
expect_usage "diff --cpu on JSON" "a cvmm JSON table holds one CPU" -- cpuid diff --cpu 1 "$PASTE2" "$T/cpu0.json"
FC=$(ls "$DATA"/firecracker/fingerprint_*.json | head -1)
expect_usage "diff --cpu on Firecracker" "a Firecracker CPU template holds one CPU" -- cpuid diff --cpu 2 "$FC" "$FC"
"$CVMM" cpuid diff --cpu 0 "$FC" "$T/cpu0.json" >/dev/null 2>&1
[ $? -ne 2 ] && ok || bad "diff --cpu 0 on JSON refused"
expect_usage "probe --cpu" "cpuid probe: --cpu" -- cpuid probe --cpu 1

# show: exact `cpuid -r` format, byte-identical across runs and environments.
"$CVMM" cpuid show --from "$SPR" --profile tdx >"$T/ref" || bad "show tdx failed"
for i in $(seq 1 20); do
	env -i MALLOC_PERTURB_=$((i * 7)) LANG=C "$CVMM" cpuid show --from "$SPR" --profile tdx >"$T/run" &&
		cmp -s "$T/ref" "$T/run" || { bad "show output differs on run $i"; break; }
done
[ $i -eq 20 ] && ok
grep -Eqv '^(CPU:|   0x[0-9a-f]{8} 0x[0-9a-f]{2}: eax=0x[0-9a-f]{8} ebx=0x[0-9a-f]{8} ecx=0x[0-9a-f]{8} edx=0x[0-9a-f]{8})$' "$T/ref" &&
	bad "show output has a line not in cpuid -r format" || ok

# check passes show's output, both profiles, for every full dump; JSON round-trips.
for f in "$DATA"/*.cpuid "$DATA"/firecracker/fingerprint_*.json; do
	for p in host tdx; do
		case "$f:$p" in *partial*:tdx) continue ;; esac
		"$CVMM" cpuid show --from "$f" --profile $p >"$T/s.cpuid" || { bad "show $f $p"; continue; }
		"$CVMM" cpuid check --from "$T/s.cpuid" >"$T/c" && ok || bad "check of show $p $f: $(grep error "$T/c")"
		"$CVMM" cpuid show --from "$f" --profile $p --format json >"$T/s.json" || bad "json $f"
		"$CVMM" cpuid show --from "$T/s.json" >"$T/s2.cpuid" && cmp -s "$T/s.cpuid" "$T/s2.cpuid" && ok || bad "json round trip $f $p"
	done
done

# The trace says which rule changed what.
"$CVMM" cpuid show --from "$SPR" --profile tdx --format json >"$T/tdx.json"
grep -q '"rule": "tdx.fixed1"' "$T/tdx.json" && grep -q '"rule": "tdx.xfam"' "$T/tdx.json" &&
	grep -q '"rule": "tdx.faulting-leaf-zero"' "$T/tdx.json" && ok || bad "json trace lacks tdx rules"

# check exit codes: 1 on errors, 0 with warnings only.
"$CVMM" cpuid check --from "$DATA/amd-epyc-7742-rome.cpuid" >"$T/c"
[ $? -eq 1 ] && grep -q 'feature.state-without-feature' "$T/c" && ok || bad "rome check should fail"
"$CVMM" cpuid check --from "$DATA/amd-epyc-9334-genoa.cpuid" >"$T/c"
[ $? -eq 0 ] && grep -q '^result: 0 errors' "$T/c" && ok || bad "genoa check should pass"
"$CVMM" cpuid check --from "$DATA/intel-amx-host-leaf0d-partial.cpuid" >"$T/c"
grep -q '^skipped: leaf 1' "$T/c" && ok || bad "partial dump: skipped rules not said"
"$CVMM" cpuid check --from "$DATA/amd-epyc-9334-genoa.cpuid" --profile tdx --format json >"$T/c.json"
grep -q '"rule": "tdx.vendor"' "$T/c.json" && grep -q '"severity": "warning"' "$T/c.json" && ok || bad "tdx vendor warning"

# --features on the command line: AVX-512 gone from leaf 7 and leaf 0xD.
"$CVMM" cpuid show --from "$SPR" --profile host --features -avx512f,-amx-tile >"$T/f.cpuid"
"$CVMM" cpuid diff "$T/ref" "$T/f.cpuid" >/dev/null
"$CVMM" cpuid show --from "$SPR" --profile host >"$T/h.cpuid"
"$CVMM" cpuid diff "$T/h.cpuid" "$T/f.cpuid" >"$T/d"
[ $? -eq 1 ] && grep -q -- '-avx512f' "$T/d" && grep -q '0x0000000d 0x12: only in A' "$T/d" && ok || bad "diff after --features"
"$CVMM" cpuid diff "$T/h.cpuid" "$T/h.cpuid" >"$T/d"
[ $? -eq 0 ] && [ ! -s "$T/d" ] && ok || bad "diff of identical tables"

# Defect 7: every `show` output reads back. A result with no entries has no readable form, so
# it is refused (exit 2, one line); each format's output, fed back, gives the same output.
printf '   0x0000000d 0x05: eax=0x00000040 ebx=0x00000440 ecx=0x00000000 edx=0x00000000\n' >"$T/only5.cpuid"
for fm in raw json; do
	expect_usage "show $fm: empty after --features" "no entries left after --features" -- cpuid show --from "$T/only5.cpuid" --features -avx512f --format $fm
done
printf '   0x00000000 0x00: eax=0x00000001 ebx=0x756e6547 ecx=0x6c65746e edx=0x49656e69\n' >"$T/one.cpuid"
grep ' 0x00000004 ' "$SPR" >"$T/sub.cpuid"
for src in "$DATA"/*.cpuid "$DATA"/pvm-host/*.cpuid "$DATA"/firecracker/fingerprint_*.json "$T/one.cpuid" "$T/sub.cpuid"; do
	n=$(basename "$src")
	# --from - keeps the JSON "source" the same in both runs
	"$CVMM" cpuid show --from - <"$src" >"$T/r1" && "$CVMM" cpuid show --from - <"$T/r1" >"$T/r2" &&
		[ -s "$T/r1" ] && cmp -s "$T/r1" "$T/r2" && ok || bad "raw round trip of $n"
	# JSON: the table read back is the same table; the trace of the first run records the
	# re-derivation of 0xD that the second has nothing left to do, so from the second run on
	# the JSON is a fixed point.
	"$CVMM" cpuid show --from - --format json <"$src" >"$T/j1" &&
		"$CVMM" cpuid show --from - <"$T/j1" >"$T/j1r" && cmp -s "$T/r1" "$T/j1r" &&
		"$CVMM" cpuid show --from - --format json <"$T/j1" >"$T/j2" &&
		"$CVMM" cpuid show --from - --format json <"$T/j2" >"$T/j3" && cmp -s "$T/j2" "$T/j3" &&
		ok || bad "json round trip of $n"
done

# This machine's live CPUID (the same tool, run now): the profiles produce tables check accepts.
if command -v cpuid >/dev/null; then
	cpuid -r -1 >"$T/live.cpuid"
	for p in host tdx; do
		"$CVMM" cpuid show --from "$T/live.cpuid" --profile $p >"$T/l.cpuid" &&
			"$CVMM" cpuid check --from "$T/l.cpuid" >"$T/c" && ok || bad "live $p: $(grep error "$T/c")"
	done
else
	bad "the cpuid tool is missing (tools/install-deps.sh installs it)"
fi
# KVM: without --from, cvmm reads KVM_GET_SUPPORTED_CPUID; where there is no /dev/kvm it says so.
if [ -e /dev/kvm ]; then
	"$CVMM" cpuid show >"$T/kvm.cpuid" && ok || bad "show from KVM"
	for p in host tdx; do
		"$CVMM" cpuid show --profile $p >"$T/k.cpuid" && "$CVMM" cpuid check --from "$T/k.cpuid" >"$T/c" && ok || bad "kvm $p: $(grep error "$T/c")"
	done
	# probe: what a guest really sees; check and diff read it from standard input.
	"$CVMM" cpuid probe --profile host >"$T/eff.cpuid" 2>"$T/err" && [ ! -s "$T/err" ] && ok || bad "probe host: $(cat "$T/err")"
	"$CVMM" cpuid check --from - <"$T/eff.cpuid" >"$T/c" && ok || bad "probe host: check of the effective table: $(grep error "$T/c")"
	"$CVMM" cpuid probe --profile host --format json >"$T/eff.json" &&
		"$CVMM" cpuid diff "$T/eff.json" "$T/eff.cpuid" >"$T/d" && ok || bad "probe: the json form is not the raw form's table: $(head -3 "$T/d")"
	"$CVMM" cpuid diff - "$T/eff.cpuid" <"$T/eff.cpuid" >"$T/d" && ok || bad "diff - FILE of the same table: $(head -3 "$T/d")"
	# run --metrics: a regular file is replaced whole; a tdx refusal (exit 2) writes nothing.
	echo old >"$T/reg.json"
	"$CVMM" run --kernel "$G" --no-reboot --metrics "$T/reg.json" >/dev/null 2>"$T/err" &&
		grep -q '"complete":true' "$T/reg.json" && [ -f "$T/reg.json" ] && [ ! -L "$T/reg.json" ] && ok ||
		bad "run: --metrics over a regular file: $(tail -1 "$T/err")"
	# The sandbox: on by default ("sandbox":true, and the metrics file above was written under
	# it), off with --no-sandbox; a forbidden call (the selftest's execve, x86_64 number 59)
	# ends the run with status 4 and one line naming it.
	grep -q '"sandbox":true' "$T/reg.json" && ok || bad "run: --metrics does not say the sandbox was on"
	"$CVMM" run --kernel "$G" --no-reboot --no-sandbox --metrics "$T/nosb.json" >/dev/null 2>"$T/err" &&
		grep -q '"sandbox":false' "$T/nosb.json" && ok || bad "run --no-sandbox: metrics do not say sandbox false: $(tail -1 "$T/err")"
	"$CVMM" run --kernel "$G" --no-reboot --sandbox-selftest >"$T/out" 2>"$T/err"
	rc=$?
	[ $rc -eq 4 ] && [ "$(grep -c 'sandbox' "$T/err")" -eq 1 ] &&
		[ "$(tail -1 "$T/err")" = "cvmm: sandbox: forbidden system call 59 (arch x86_64): stopped the run (--no-sandbox runs without the filter)" ] &&
		ok || bad "run --sandbox-selftest: exit $rc, want 4 and the one sandbox line: $(tail -1 "$T/err")"
	"$CVMM" run --kernel "$G" --no-reboot --profile tdx --metrics "$T/run-tdx.json" >/dev/null 2>"$T/err"
	case $? in
	2) [ ! -e "$T/run-tdx.json" ] && ! ls "$T"/run-tdx.json.* >/dev/null 2>&1 && [ "$(wc -l <"$T/err")" -eq 1 ] && ok ||
		bad "run: the tdx refusal (exit 2) left a metrics file or printed more than one line: $(cat "$T/err")" ;;
	0) echo "note: this host's KVM enforces the tdx profile's CPUID: the tdx refusal is not exercised" ;;
	*) bad "run --profile tdx: unexpected exit: $(tail -1 "$T/err")" ;;
	esac
else
	echo "note: no /dev/kvm on this host: checking that cvmm says so (KVM source not exercised)"
	"$CVMM" cpuid show >"$T/out" 2>"$T/err"
	[ $? -eq 3 ] && grep -q 'cannot open /dev/kvm' "$T/err" && [ ! -s "$T/out" ] && ok || bad "no-kvm message"
	"$CVMM" cpuid probe >"$T/out" 2>"$T/err"
	[ $? -eq 3 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q 'cannot open /dev/kvm' "$T/err" && [ ! -s "$T/out" ] && ok || bad "probe: no-kvm message"
fi
# Standard input for --from and diff operands, and the Linux model's version.
"$CVMM" cpuid show --from - <"$SPR" >"$T/a" && "$CVMM" cpuid show --from "$SPR" >"$T/b" && cmp -s "$T/a" "$T/b" && ok || bad "show --from - differs from show --from FILE"
"$CVMM" cpuid diff "$SPR" - <"$SPR" >/dev/null && ok || bad "diff FILE - of the same dump"
expect_usage "diff: - twice" "not both" -- cpuid diff - -
expect_usage "stdin: empty" "<stdin>: empty input" -- cpuid show --from - </dev/null
expect_usage "stdin: garbage" "<stdin>" -- cpuid show --from - <"$T/garbage.cpuid"
expect_usage "check: bad --linux" "--linux '5.10'" -- cpuid check --from "$SPR" --linux 5.10
expect_usage "show: --linux" "--linux" -- cpuid show --from "$SPR" --linux 6.1
expect_usage "probe: --from" "--from" -- cpuid probe --from "$SPR"
expect_usage "probe: --xcr0" "--xcr0" -- cpuid probe --xcr0 0x7
expect_usage "probe: bad profile" "profile" -- cpuid probe --profile sev
"$CVMM" cpuid check --from "$SPR" --linux 6.6 >"$T/c66"; "$CVMM" cpuid check --from "$SPR" >"$T/c61"
grep -q '^linux 6.6 prints: x86/fpu: Enabled xstate features' "$T/c66" && grep -q '^linux 6.1 verdict: ' "$T/c61" && ok || bad "check --linux: the predicted lines are printed per version"

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
