/* fuzz_scenario.c: libFuzzer target for the sandbox's scenario parser (scenario_parse; a scenario
 * file is outside input written by hand). Whatever comes: no crash, no leak, and an error message
 * "path: what is wrong" whenever it is refused; when accepted, every lookup works.
 * Build: make build/fuzz/fuzz_scenario
 *   (= clang -fsanitize=fuzzer,address,undefined tests/fuzz/fuzz_scenario.c sandbox/scenario.c
 *      build/gen/scenario_data.c -Iinclude -Isandbox $(pkg-config --cflags --libs libcjson))
 * Run:   build/fuzz/fuzz_scenario -max_total_time=60 build/fuzz/corpus/fuzz_scenario sandbox/scenarios
 *        tests/sandbox/scenarios   (or: make fuzz) */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	struct scenario *sc = scenario_parse((const char *)data, size, err, sizeof(err));

	if (!sc) {
		/* refused: always with a message of the form "where: what" */
		if (!err[0] || !strstr(err, ": "))
			abort();
		return 0;
	}
	for (size_t i = 0; i < sc->npartners; i++) {
		const struct sc_partner *p = &sc->partners[i];
		if (scenario_partner(sc, p->client_id) != p || !p->terms.ja || p->nscopes == 0)
			abort();
		for (size_t j = 0; j < p->nscopes; j++)
			if (!scenario_scope(sc, p->scopes[j]))
				abort();
		(void)strlen(l10n_text(&p->terms, "en"));
	}
	for (size_t i = 0; i < sc->ncustomers; i++) {
		const struct sc_customer *cu = &sc->customers[i];
		if (scenario_customer(sc, cu->login_id) != cu)
			abort();
		for (size_t j = 0; j < cu->ncertificates; j++) {
			const struct sc_certificate *ce = &cu->certificates[j];
			if (scenario_customer_by_cert(sc, ce->subject, ce->serial, ce->sha256) != cu)
				abort();
		}
		for (size_t j = 0; j < cu->naccounts; j++) {
			const struct sc_customer *owner = NULL;
			const struct sc_account *a = &cu->accounts[j];
			if (scenario_account(sc, a->id, &owner) != a || owner != cu ||
			    strlen(a->pin) != (size_t)sc->pin_length)
				abort();
		}
	}
	scenario_free(sc);
	return 0;
}
