[ -f /etc/profile ] && . /etc/profile
