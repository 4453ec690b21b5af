complete -c ftpfs -s o -d 'Mount options, comma separated (any long option without the dashes)' -r
complete -c ftpfs -l tls -d 'TLS: explicit (AUTH TLS, the default for ftps://), implicit (TLS from the first byte, port 990) or none (the default for ftp://)' -r -f -a "explicit\t''
implicit\t''
none\t''"
complete -c ftpfs -l cafile -d 'Also trust the certificate authorities in this PEM file' -r -F
complete -c ftpfs -l tls-version -d 'TLS versions: auto (1.3, switching to 1.2 for servers that need it), 1.2 or 1.3' -r -f -a "auto\t''
1.2\t''
1.3\t''"
complete -c ftpfs -l password-file -d 'Read the password from the first line of this file (must not be readable by others)' -r -F
complete -c ftpfs -l netrc -d 'Take the login from this netrc file instead of ~/.netrc (must not be readable by others)' -r -F
complete -c ftpfs -l encoding -d 'The server\'s file-name encoding when it is not UTF-8: gbk, gb18030, big5, shift_jis, euc-kr, cp1251, latin1, ... (names are translated to and from UTF-8)' -r
complete -c ftpfs -l max-conns -d 'Most FTP sessions open at once' -r
complete -c ftpfs -l connect-timeout -d 'Seconds to wait for a TCP connection (control, data, active-mode accept)' -r
complete -c ftpfs -l timeout -d 'Longest a filesystem call waits on the server, retries included; a stalled server gives ETIMEDOUT or EIO within this bound' -r
complete -c ftpfs -l reply-timeout -d 'Seconds to wait for each reply on the control connection [default: timeout/2]' -r
complete -c ftpfs -l data-timeout -d 'Seconds a data connection may stall before the transfer fails [default: timeout/2]' -r
complete -c ftpfs -l keepalive -d 'Send NOOP on idle sessions every SECONDS so the server does not drop them' -r
complete -c ftpfs -l idle-timeout -d 'Seconds an unused session stays open (servers drop idle clients; vsftpd after 300)' -r
complete -c ftpfs -l dir-cache-ttl -d 'Seconds a directory listing is trusted before the server is asked again' -r
complete -c ftpfs -l negative-ttl -d 'Seconds a name missing from a listing is believed missing; an older listing is fetched again before a name is reported missing (at most dir_cache_ttl)' -r
complete -c ftpfs -l prefetch-dirs -d 'When a directory is read, list up to N of its subdirectories ahead, over idle sessions (0: never list ahead)' -r
complete -c ftpfs -l cache-dir -d 'Directory for spool files of files being written [default: ~/.cache/ftpfs]' -r -F
complete -c ftpfs -l cache-max-mb -d 'Most MiB that spool files may use together; writes beyond fail with ENOSPC' -r
complete -c ftpfs -l uid -d 'Owner of every file (default: the mounting user)' -r
complete -c ftpfs -l gid -d 'Group of every file (default: the mounting user\'s group)' -r
complete -c ftpfs -l umask -d 'Show permissions as 0777/0666 minus this octal mask instead of the server\'s bits' -r
complete -c ftpfs -s f -l foreground -d 'Stay in the foreground instead of going to the background once mounted'
complete -c ftpfs -s d -l debug -d 'Log debugging information (implies --foreground); FTPFS_LOG=filter refines it'
complete -c ftpfs -l trace-ftp -d 'Log every FTP command sent (PASS masked), at debug level under ftpfs::ftp'
complete -c ftpfs -l allow-other -d 'Let other users access the mount (needs user_allow_other in /etc/fuse.conf for non-root)'
complete -c ftpfs -l default-permissions -d 'Let the kernel check permissions against the mode bits shown'
complete -c ftpfs -l auto-unmount -d 'Remove the mount even if ftpfs is killed (through fusermount3; implies allow_root)'
complete -c ftpfs -l fake -d 'As a mount(8) helper: check the arguments but do not mount (`mount -f`)'
complete -c ftpfs -l ro -l read-only -d 'Mount read-only: every change fails with EROFS'
complete -c ftpfs -l noexec -d 'Do not let programs on the mount run (MS_NOEXEC; -o exec undoes it). nosuid and nodev are always on'
complete -c ftpfs -l exec -d 'Let programs on the mount run (the default; undoes an earlier noexec)'
complete -c ftpfs -l no-verify -d 'Do not verify the server\'s certificate (dangerous: anyone in between can read everything)'
complete -c ftpfs -l password-stdin -d 'Read the password from the first line of standard input (as sshfs; for pam_mount)'
complete -c ftpfs -l active -d 'Use active mode (PORT/EPRT): the server connects back to this machine for data'
complete -c ftpfs -l disable-epsv -d 'Use PASV only, never EPSV'
complete -c ftpfs -l use-pasv-address -d 'Connect to the address in the server\'s PASV reply instead of the control connection\'s peer'
complete -c ftpfs -l no-pipelining -d 'Send FTP commands one at a time, never several before their replies (pipelining is otherwise used where the server handles it: batches of MDTM on LIST-only servers)'
complete -c ftpfs -l no-stat-listing -d 'List directories over data connections only, never with STAT over the control connection (otherwise used on LIST-only servers whose STAT lists completely: vsftpd)'
complete -c ftpfs -l no-preopen -d 'Do not keep a data connection opened ahead on idle sessions (by default one is opened behind each transfer, so the next costs about one round trip)'
complete -c ftpfs -l delay-connect -d 'Mount at once and connect on first use (the server may be down at mount time)'
complete -c ftpfs -l no-mdtm -d 'Don\'t refine LIST\'s minute-precision times with MDTM'
complete -c ftpfs -s h -l help -d 'Print help'
complete -c ftpfs -s V -l version -d 'Print version'
