//! rune's guardian, as a program of its own: it kills rune's children if rune dies
//! without saying so (SIGKILL, the out-of-memory killer, a crash).
//!
//! `build.rs` compiles this file for x86_64 Linux into a static executable of a
//! few kilobytes, with no C library and no dynamic loader, and rune carries it
//! (`src/exec/supervisor.rs`, `start_guardian`). rune runs it from a memory file
//! once per execution: it starts in a tenth of the CPU time `awk` needs, and
//! `awk` is what rune runs where this program is not built.
//!
//! Its protocol is the `awk` guardian's, on stdin: `+ PID` when rune spawns a
//! child (its pid is its process group), `- PID` when rune reaps it, `done` when
//! rune exits normally. At end of file without `done` (rune is gone), it SIGKILLs
//! every group still on its list, then every process whose environment carries
//! rune's token `RUNE_SUPERVISED=<rune pid>:` (a child spawned just before rune
//! died, whose `+` line never came, and what escaped its group), looking again
//! while it finds some, and exits. `argv[1]` is rune's pid.
//!
//! Nothing here allocates, formats or can be interrupted by a signal it does not
//! expect: rune starts it in a process group of its own, with stdout and stderr
//! on /dev/null, and it never writes.

#![no_std]
#![no_main]
// Everything below is system calls on raw memory: there is no safe layer to
// build on without a C library or a crate.
#![allow(unsafe_code)]
// No call to `memcpy` and friends can be generated: there is no C library to
// provide them, and the loops here are small.
#![no_builtins]

use core::arch::{asm, global_asm};
use core::cell::UnsafeCell;

const SYS_READ: usize = 0;
const SYS_CLOSE: usize = 3;
const SYS_GETPID: usize = 39;
const SYS_KILL: usize = 62;
const SYS_PRCTL: usize = 157;
const SYS_GETDENTS64: usize = 217;
const SYS_EXIT_GROUP: usize = 231;
const SYS_OPENAT: usize = 257;

const AT_FDCWD: isize = -100;
const O_RDONLY_CLOEXEC: usize = 0o2_000_000;
const O_DIRECTORY: usize = 0o200_000;
const EINTR: isize = 4;
const SIGKILL: usize = 9;
const PR_SET_NAME: usize = 15;

/// How many live children the list holds; more are still found by their token.
const SLOTS: usize = 4096;
/// Kill rounds over `/proc`: processes forked while the guardian kills are looked
/// for again, this many times at most.
const ROUNDS: usize = 16;
/// The variable every child of rune gets.
const TOKEN_VAR: &[u8] = b"RUNE_SUPERVISED=";

/// The guardian's memory: zeroed by the loader (`.bss`), used by one thread.
struct State {
    live: [i32; SLOTS],
    input: [u8; 4096],
    line: [u8; 64],
    dirents: [u8; 8192],
    environ: [u8; 4096],
    path: [u8; 32],
    prefix: [u8; 48],
}

struct Memory(UnsafeCell<State>);
// SAFETY: the guardian has one thread.
unsafe impl Sync for Memory {}

static MEMORY: Memory = Memory(UnsafeCell::new(State {
    live: [0; SLOTS],
    input: [0; 4096],
    line: [0; 64],
    dirents: [0; 8192],
    environ: [0; 4096],
    path: [0; 32],
    prefix: [0; 48],
}));

// The kernel starts a static executable at `_start` with the stack pointer on
// `argc`, 16-byte aligned; a call needs it aligned before the call.
global_asm!(
    ".globl _start",
    "_start:",
    "xor ebp, ebp",
    "mov rdi, rsp",
    "and rsp, -16",
    "call {main}",
    "ud2",
    main = sym main,
);

unsafe fn syscall(n: usize, a: usize, b: usize, c: usize, d: usize) -> isize {
    let ret: isize;
    // SAFETY: the caller passes arguments valid for system call `n`.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") n as isize => ret,
            in("rdi") a,
            in("rsi") b,
            in("rdx") c,
            in("r10") d,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

fn exit(code: usize) -> ! {
    // SAFETY: exit_group takes a number and does not return.
    unsafe {
        asm!("syscall", in("rax") SYS_EXIT_GROUP, in("rdi") code, options(noreturn, nostack));
    }
}

fn kill(pid: isize) {
    // SAFETY: kill takes numbers; a negative pid names a process group.
    unsafe { syscall(SYS_KILL, pid as usize, SIGKILL, 0, 0) };
}

fn read(fd: isize, buf: &mut [u8]) -> isize {
    loop {
        // SAFETY: `buf` is writable for its length.
        let n = unsafe {
            syscall(
                SYS_READ,
                fd as usize,
                buf.as_mut_ptr() as usize,
                buf.len(),
                0,
            )
        };
        if n != -EINTR {
            return n;
        }
    }
}

/// Open `path` (NUL-terminated) relative to `dir`; negative on failure.
fn open(dir: isize, path: &[u8], flags: usize) -> isize {
    // SAFETY: `path` ends with a NUL (checked by the callers' construction).
    unsafe { syscall(SYS_OPENAT, dir as usize, path.as_ptr() as usize, flags, 0) }
}

fn close(fd: isize) {
    // SAFETY: closes a descriptor this program opened.
    unsafe { syscall(SYS_CLOSE, fd as usize, 0, 0, 0) };
}

/// `argv[1]`, rune's pid, from the initial stack.
extern "C" fn main(stack: *const usize) -> ! {
    // SAFETY: the kernel's initial stack: argc, then argc pointers to C strings.
    let rune = unsafe {
        if *stack < 2 {
            exit(2)
        }
        let arg = *stack.add(2) as *const u8;
        let mut n: isize = 0;
        let mut i = 0;
        loop {
            let b = *arg.add(i);
            if b == 0 || i > 10 {
                break;
            }
            if !b.is_ascii_digit() {
                exit(2)
            }
            n = n * 10 + (b - b'0') as isize;
            i += 1;
        }
        n
    };
    if rune <= 0 {
        exit(2)
    }
    // SAFETY: the name is NUL-terminated and at most 16 bytes.
    unsafe { syscall(SYS_PRCTL, PR_SET_NAME, c"guardian".as_ptr() as usize, 0, 0) };
    // SAFETY: the only reference to the guardian's memory, on its only thread.
    let m = unsafe { &mut *MEMORY.0.get() };
    if listen(m) {
        exit(0)
    }
    for &pid in m.live.iter() {
        if pid > 0 {
            kill(-(pid as isize));
        }
    }
    let len = token_prefix(&mut m.prefix, rune);
    for _ in 0..ROUNDS {
        if !kill_tokened(m, len, rune) {
            break;
        }
    }
    exit(0)
}

/// Read rune's lines until end of file; whether rune said `done`.
fn listen(m: &mut State) -> bool {
    let mut len = 0;
    let mut overlong = false;
    let mut done = false;
    loop {
        let n = read(0, &mut m.input);
        if n <= 0 {
            return done;
        }
        for i in 0..n as usize {
            let b = m.input[i];
            if b != b'\n' {
                if len < m.line.len() {
                    m.line[len] = b;
                    len += 1;
                } else {
                    overlong = true;
                }
                continue;
            }
            if !overlong {
                done |= take_line(&mut m.live, &m.line[..len]);
            }
            len = 0;
            overlong = false;
        }
    }
}

/// Apply one line to the list; whether it is `done`.
fn take_line(live: &mut [i32; SLOTS], line: &[u8]) -> bool {
    if line.len() == 4 && line[0] == b'd' && line[1] == b'o' && line[2] == b'n' && line[3] == b'e' {
        return true;
    }
    if line.len() < 3 || line[1] != b' ' {
        return false;
    }
    let mut pid: i32 = 0;
    for &b in &line[2..] {
        if !b.is_ascii_digit() || pid > 100_000_000 {
            return false;
        }
        pid = pid * 10 + (b - b'0') as i32;
    }
    if pid <= 0 {
        return false;
    }
    let (from, to) = match line[0] {
        b'+' => (0, pid),
        b'-' => (pid, 0),
        _ => return false,
    };
    for slot in live.iter_mut() {
        if *slot == from {
            *slot = to;
            break;
        }
    }
    false
}

/// Write `RUNE_SUPERVISED=<rune>:` into `buf`; its length.
fn token_prefix(buf: &mut [u8; 48], rune: isize) -> usize {
    let mut len = 0;
    for &b in TOKEN_VAR {
        buf[len] = b;
        len += 1;
    }
    len += decimal(&mut buf[len..], rune as usize);
    buf[len] = b':';
    len + 1
}

/// `n` in decimal at the start of `out`; how many digits.
fn decimal(out: &mut [u8], mut n: usize) -> usize {
    let mut digits = [0u8; 20];
    let mut count = 0;
    loop {
        digits[count] = b'0' + (n % 10) as u8;
        count += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for i in 0..count {
        out[i] = digits[count - 1 - i];
    }
    count
}

/// A directory entry's name as a pid.
fn pid_of(name: &[u8]) -> Option<isize> {
    if name.is_empty() || name.len() > 10 {
        return None;
    }
    let mut n: isize = 0;
    for &b in name {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (b - b'0') as isize;
    }
    Some(n)
}

/// SIGKILL every process whose environment carries rune's token; whether any.
fn kill_tokened(m: &mut State, prefix_len: usize, rune: isize) -> bool {
    let proc_fd = open(AT_FDCWD, b"/proc\0", O_RDONLY_CLOEXEC | O_DIRECTORY);
    if proc_fd < 0 {
        return false;
    }
    // SAFETY: getpid takes nothing.
    let me = unsafe { syscall(SYS_GETPID, 0, 0, 0, 0) };
    let mut killed = false;
    loop {
        // SAFETY: `dirents` is writable for its length.
        let n = unsafe {
            syscall(
                SYS_GETDENTS64,
                proc_fd as usize,
                m.dirents.as_mut_ptr() as usize,
                m.dirents.len(),
                0,
            )
        };
        if n <= 0 {
            break;
        }
        let mut at = 0usize;
        // linux_dirent64: inode (8), offset (8), record length (2), type (1), name.
        while at + 19 < n as usize {
            let reclen = u16::from_ne_bytes([m.dirents[at + 16], m.dirents[at + 17]]) as usize;
            if reclen == 0 || at + reclen > n as usize {
                break;
            }
            let name_start = at + 19;
            let mut name_end = name_start;
            while name_end < at + reclen && m.dirents[name_end] != 0 {
                name_end += 1;
            }
            if let Some(pid) = pid_of(&m.dirents[name_start..name_end]) {
                if pid != me && pid != rune && carries(m, proc_fd, name_start, name_end, prefix_len)
                {
                    kill(pid);
                    killed = true;
                }
            }
            at += reclen;
        }
    }
    close(proc_fd);
    killed
}

/// Whether `/proc/<name>/environ` (the name at `dirents[start..end]`) has a
/// variable starting with the prefix. A variable starts the file or follows a NUL.
fn carries(m: &mut State, proc_fd: isize, start: usize, end: usize, prefix_len: usize) -> bool {
    let mut len = 0;
    for i in start..end {
        m.path[len] = m.dirents[i];
        len += 1;
    }
    for &b in b"/environ\0" {
        m.path[len] = b;
        len += 1;
    }
    let fd = open(proc_fd, &m.path[..len], O_RDONLY_CLOEXEC);
    if fd < 0 {
        return false;
    }
    // How much of the prefix the current variable matched; `usize::MAX` once it differs.
    let mut matched = 0usize;
    let mut found = false;
    'reading: loop {
        let n = read(fd, &mut m.environ);
        if n <= 0 {
            break;
        }
        for i in 0..n as usize {
            let b = m.environ[i];
            if b == 0 {
                matched = 0;
            } else if matched < prefix_len && m.prefix[matched] == b {
                matched += 1;
                if matched == prefix_len {
                    found = true;
                    break 'reading;
                }
            } else {
                matched = usize::MAX;
            }
        }
    }
    close(fd);
    found
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    exit(3)
}

// What the compiler may call for a copy or a fill (and does, unoptimized),
// which a C library would provide. `no_builtins` keeps these loops loops.

/// Fill `n` bytes at `dst` with `c`.
#[no_mangle]
unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    for i in 0..n {
        // SAFETY: the caller's `dst` is writable for `n` bytes.
        unsafe { *dst.add(i) = c as u8 };
    }
    dst
}

/// Copy `n` bytes from `src` to `dst`, which may overlap.
#[no_mangle]
unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dst as usize) < (src as usize) {
        for i in 0..n {
            // SAFETY: the caller's ranges are valid for `n` bytes.
            unsafe { *dst.add(i) = *src.add(i) };
        }
    } else {
        for i in (0..n).rev() {
            // SAFETY: as above.
            unsafe { *dst.add(i) = *src.add(i) };
        }
    }
    dst
}

/// Copy `n` bytes from `src` to `dst`, which do not overlap.
#[no_mangle]
unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller's contract is memmove's, and more.
    unsafe { memmove(dst, src, n) }
}

/// Compare `n` bytes.
#[no_mangle]
unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    for i in 0..n {
        // SAFETY: the caller's ranges are readable for `n` bytes.
        let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
    }
    0
}

/// Whether `n` bytes differ.
#[no_mangle]
unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: memcmp's contract.
    unsafe { memcmp(a, b, n) }
}

/// The standard library's objects name an unwinding personality; with
/// `panic=abort` nothing unwinds, so it is never called.
#[no_mangle]
extern "C" fn rust_eh_personality() {}
