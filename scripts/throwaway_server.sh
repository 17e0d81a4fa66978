# What the start_test_*.sh scripts share, sourced by each: messages, a free loopback port, the Debian package
# installed when missing (as root), and the start|stop command line. A script sets SERVER_SCRIPT (its name in
# messages) before sourcing this file and defines `start` and `stop`.

say() { echo "$SERVER_SCRIPT: $*" >&2; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# install_package PACKAGE WHAT SKIPPED: install Debian's PACKAGE as root; otherwise say what to install and
# which tests (SKIPPED) skip without it, and fail.
install_package() {
    local package="$1" what="$2" skipped="$3"
    if [ "$(id -u)" != 0 ]; then
        say "$what is not installed; install Debian's $package package ($skipped skip without it)"
        exit 1
    fi
    say "installing $what from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "$package" >&2
}

run_server_command() {
    case "${1:-start}" in
        start) start ;;
        stop) stop ;;
        *) say "usage: $0 start|stop"; exit 2 ;;
    esac
}
