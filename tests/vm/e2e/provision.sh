#!/bin/bash
# Runs in a rescue system booted with blank disks: vda (becomes the source system), vdb (the backup disk, an ext4
# file system labelled REAR-000), vdc (this payload). Creates scenario A -- GPT with a BIOS boot partition and an
# ESP, ext4 /boot, LVM with ext4 /, xfs /home and swap -- a small bootable system on it (the host's kernel, a tiny
# initramfs printing a marker, GRUB), test files, then saves its layout and backs it up with rearbuild itself.
# $1: bios (GRUB for i386-pc, the default) or uefi-sb (booted under OVMF with Secure Boot on: Debian's signed shim and
# signed GRUB on the ESP, installed as a Debian system with shim-signed and grub-efi-amd64-signed does it).
set -euo pipefail
FIRMWARE=${1:-bios}
P=/payload
KVER=$(cat $P/kver)
say() { echo "PROVISION: $*"; }

say partitioning
sfdisk --quiet /dev/vda <<'PARTS'
label: gpt
unit: sectors
start=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649, name="bios"
size=204800, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI system"
size=409600, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="boot"
type=E6D6D379-F507-44C2-A23C-238F2A3DF928, name="lvm"
PARTS
blockdev --rereadpt /dev/vda
for n in 1 2 3 4; do for i in $(seq 50); do [ -b /dev/vda$n ] && break; sleep 0.1; done; done

say file systems
mkfs.vfat -n ESP /dev/vda2 >/dev/null
mkfs.ext4 -q -L boot /dev/vda3
lvm pvcreate -q /dev/vda4
lvm vgcreate -q system /dev/vda4
lvm lvcreate -q -L 700M -n root system
lvm lvcreate -q -L 300M -n home system
lvm lvcreate -q -L 64M -n swap system
mkfs.ext4 -q -L root /dev/system/root
mkfs.xfs -q -L home /dev/system/home
mkswap -L swap /dev/system/swap >/dev/null
swapon /dev/system/swap

say mounting
S=/mnt/src
mkdir -p $S && mount /dev/system/root $S
mkdir -p $S/boot $S/home && mount /dev/vda3 $S/boot && mount /dev/system/home $S/home
mkdir -p $S/boot/efi && mount /dev/vda2 $S/boot/efi

say copying a system
# The rescue system's own programs make a small but real system (bash, coreutils, grub-install, python3, rear).
tar -C / --exclude=./usr/lib/modules --exclude=./usr/lib/firmware -cf - ./usr ./etc ./root ./var ./bin ./sbin \
    ./lib ./lib64 2>/dev/null | tar -C $S -xf -
mkdir -p $S/proc $S/sys $S/dev $S/run $S/tmp $S/mnt
chmod 1777 $S/tmp
rm -f $S/etc/rear-release $S/etc/rear/rescue.conf   # a normal system, not a rescue system
# GRUB (grub-install and its BIOS modules) comes with the payload: the rescue image does not carry it (recovery runs
# the restored system's own grub-install, as it will here)
mkdir -p $S/usr/lib/grub && cp -a $P/grub-i386-pc $S/usr/lib/grub/i386-pc
cp $P/grub-install $S/usr/sbin/grub-install
if [ "$FIRMWARE" = uefi-sb ]; then
    # what the packages shim-signed and grub-efi-amd64-signed (+ grub-efi-amd64-bin) put there
    cp -a $P/grub-x86_64-efi $S/usr/lib/grub/x86_64-efi
    mkdir -p $S/usr/lib/grub/x86_64-efi-signed $S/usr/lib/shim $S/etc/default
    cp $P/grubx64.efi.signed $S/usr/lib/grub/x86_64-efi-signed/
    cp $P/shim/* $S/usr/lib/shim/
    # Debian's /etc/default/grub: grub-install names the ESP directory after it (EFI/debian), where the signed
    # GRUB looks for its grub.cfg (its built-in prefix is /EFI/debian)
    echo 'GRUB_DISTRIBUTOR=Debian' > $S/etc/default/grub
fi
cp $P/vmlinuz $S/boot/vmlinuz-$KVER
cp $P/initrd.img $S/boot/initrd.img-$KVER
uuid() { blkid -s UUID -o value "$1"; }
cat > $S/etc/fstab <<FSTAB
UUID=$(uuid /dev/system/root) / ext4 defaults 0 1
UUID=$(uuid /dev/vda3) /boot ext4 defaults 0 2
UUID=$(uuid /dev/vda2) /boot/efi vfat umask=0077 0 1
UUID=$(uuid /dev/system/home) /home xfs defaults 0 2
UUID=$(uuid /dev/system/swap) none swap sw 0 0
FSTAB
mkdir -p $S/boot/grub
cat > $S/boot/grub/grub.cfg <<GRUB
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=0
search --no-floppy --fs-uuid --set=root $(uuid /dev/vda3)
echo "GRUB of the recovered system"
linux /vmlinuz-$KVER console=ttyS0,115200 panic=-1
initrd /initrd.img-$KVER
boot
GRUB
python3 $P/make_files.py $S

say boot loader
for d in dev proc sys run; do mount --rbind /$d $S/$d; done
if [ "$FIRMWARE" = uefi-sb ]; then
    chroot $S grub-install --target=x86_64-efi --efi-directory=/boot/efi --uefi-secure-boot 2>&1 | tail -3
    find $S/boot/efi/EFI -type f
else
    chroot $S grub-install --target=i386-pc /dev/vda 2>&1 | tail -1
fi

say layout and backup
cat > $S/etc/rear/local.conf <<CONF
BACKUP=NETFS
BACKUP_URL=usb:///dev/disk/by-label/REAR-000
CONF
chroot $S rear savelayout
chroot $S rear mkbackuponly
mkdir -p /mnt/backupdisk && mount /dev/vdb /mnt/backupdisk
cp $S/var/lib/rear/layout/disklayout.conf /mnt/backupdisk/disklayout.conf
umount /mnt/backupdisk

say expected state
(cd $S && python3 $P/listing.py home/user srv/data boot/testdata boot/efi/testdata)
for dev in /dev/vda2 /dev/vda3 /dev/system/root /dev/system/home /dev/system/swap; do
    echo "BLKID $dev $(blkid -s UUID -o value $dev) $(blkid -s LABEL -o value $dev)"
done
for d in run sys proc dev; do umount -R -l $S/$d; done
swapoff /dev/system/swap
umount $S/boot/efi $S/home $S/boot $S
lvm vgchange -q -an system
sync
say done
