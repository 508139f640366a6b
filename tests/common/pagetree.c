/* Test helper (tests/common): the temporary page tree on disk (see
 * pagetree.h); fails the calling cmocka test on any error. */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw */

#include "pagetree.h"

#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

/* The file's path under root, its parent directories made first. */
static void make_path(char *out, size_t cap, const char *root, const char *path)
{
	int n = snprintf(out, cap, "%s%s%s", root, path[0] == '/' ? "" : "/", path);
	assert_true(n > 0 && (size_t)n < cap);
	for (char *p = out + strlen(root) + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		assert_true(mkdir(out, 0755) == 0 || errno == EEXIST);
		*p = '/';
	}
}

void pagetree_create(char *root, size_t root_size, const char *name, struct pagetree_file *files, size_t n,
		     uint32_t seed)
{
	int len = snprintf(root, root_size, "/tmp/%s.XXXXXX", name);
	assert_true(len > 0 && (size_t)len < root_size);
	assert_non_null(mkdtemp(root));
	char path[256];
	uint32_t x = seed;
	for (size_t i = 0; i < n; i++) {
		files[i].data = malloc(files[i].len + 1);
		assert_non_null(files[i].data);
		for (size_t k = 0; k < files[i].len; k++) {
			x = x * 1103515245u + 12345u;
			files[i].data[k] = (uint8_t)(x >> 16);
		}
		make_path(path, sizeof(path), root, files[i].path);
		FILE *fp = fopen(path, "wb");
		assert_non_null(fp);
		assert_int_equal(fwrite(files[i].data, 1, files[i].len, fp), files[i].len);
		fclose(fp);
	}
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void pagetree_remove(const char *root, struct pagetree_file *files, size_t n)
{
	nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	for (size_t i = 0; i < n; i++) {
		free(files[i].data);
		files[i].data = NULL;
	}
}
