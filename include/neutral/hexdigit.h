/* hexdigit.h: the value of one hexadecimal digit, shared by the client (RFC 7512 URIs) and the
 * sandbox (form decoding, certificate fingerprints). */
#ifndef RENKEI_HEXDIGIT_H
#define RENKEI_HEXDIGIT_H

/* 0..15 for 0-9, a-f, A-F; -1 for anything else (c as an unsigned char value, or EOF). */
static inline int hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
