package match

// byteFreq estimates how often each byte occurs in log text: occurrences
// per 64 KiB, averaged over sample logs of sshd, postfix, sendmail, named,
// proftpd and vsftpd (each sample weighted equally; bytes never seen count
// as 1). The block scan searches for a rule's literal by its rarest byte,
// and picks, among the literals a rule requires, the one whose rarest byte
// is rarest: on a log, "Invalid user" is found by its 'I', not its ' '.
// It is read-only.
var byteFreq = [256]uint16{
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 469, 1, 1, 1, 1, 1, // 0x00
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, // 0x10
	6717, 4, 1, 92, 1, 1, 1, 185, 235, 235, 98, 1, 129, 397, 2937, 508, // 0x20
	1923, 3370, 2500, 1659, 1251, 1392, 767, 684, 788, 961, 2153, 63, 137, 419, 137, 6, // 0x30
	237, 209, 65, 88, 155, 180, 217, 21, 38, 210, 93, 10, 174, 223, 276, 109, // 0x40
	104, 40, 192, 294, 180, 140, 29, 4, 38, 33, 113, 605, 2, 605, 1, 364, // 0x50
	1, 2341, 549, 1609, 1313, 3332, 1095, 537, 775, 1742, 119, 137, 1169, 1602, 2153, 2429, // 0x60
	1107, 109, 1681, 1799, 2025, 1185, 209, 146, 554, 493, 62, 1, 1, 1, 1, 1, // 0x70
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, // 0x80
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, // 0x90
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, // 0xa0
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, // 0xb0
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, // 0xc0
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, // 0xd0
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, // 0xe0
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, // 0xf0
}
