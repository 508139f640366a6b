/* Unit tests for apps/common/walk.c, the directory walk of the page store
 * and of usn_load's corpus, over a tree made in a temporary directory:
 * which files are handed over and with which paths, what is skipped and
 * why (dotfiles, symlinks in and out of the root, depth, path length),
 * what stops a strict walk, and the one-line errors. */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw, symlink, mkfifo */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../../apps/common/walk.h"

#define MAX_SEEN 64

struct seen {
	char files[MAX_SEEN][256];
	long sizes[MAX_SEEN]; /* by files[] index, until files_of sorts them */
	int n_files;
	char skips[MAX_SEEN][256];
	enum walk_skip kinds[MAX_SEEN];
	int n_skips;
	int stop_at; /* file_fn fails on this file (its index), -1: never */
};

struct tree {
	char root[64];
	char out[64]; /* beside the root: a symlink target outside it */
};

static void mkfile(const char *dir, const char *rel, const char *body)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, rel);
	/* parents first */
	for (char *s = p + strlen(dir) + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		mkdir(p, 0755);
		*s = '/';
	}
	FILE *f = fopen(p, "wb");
	assert_non_null(f);
	fputs(body, f);
	fclose(f);
}

static void mklink(const char *dir, const char *rel, const char *target)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, rel);
	assert_int_equal(symlink(target, p), 0);
}

static int file_fn(void *arg, int fd, const struct stat *st, const char *path, size_t path_len, char *msg,
		   size_t msg_len)
{
	(void)msg;
	(void)msg_len;
	struct seen *s = arg;
	assert_int_equal(strlen(path), path_len);
	assert_true(fd >= 0);
	char buf[64];
	ssize_t n = read(fd, buf, sizeof buf);
	assert_int_equal(n, st->st_size); /* the fd reads the file */
	assert_true(s->n_files < MAX_SEEN);
	if (s->n_files == s->stop_at)
		return -EIO;
	snprintf(s->files[s->n_files], sizeof s->files[0], "%s", path);
	s->sizes[s->n_files++] = (long)st->st_size;
	return 0;
}

static void skip_fn(void *arg, const char *path, enum walk_skip kind, const char *why)
{
	struct seen *s = arg;
	assert_non_null(why);
	assert_true(s->n_skips < MAX_SEEN);
	snprintf(s->skips[s->n_skips], sizeof s->skips[0], "%s", path);
	s->kinds[s->n_skips++] = kind;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The files seen, sorted, joined by spaces. */
static const char *files_of(struct seen *s)
{
	static char out[4096];
	qsort(s->files, (size_t)s->n_files, sizeof s->files[0], cmp);
	out[0] = '\0';
	for (int i = 0; i < s->n_files; i++) {
		strcat(out, i ? " " : "");
		strcat(out, s->files[i]);
	}
	return out;
}

/* The kind a skipped path was reported with, or -1 if it was not. */
static int kind_of(const struct seen *s, const char *path)
{
	for (int i = 0; i < s->n_skips; i++)
		if (strcmp(s->skips[i], path) == 0)
			return (int)s->kinds[i];
	return -1;
}

static int tree_setup(void **state)
{
	struct tree *t = calloc(1, sizeof *t);
	snprintf(t->root, sizeof t->root, "/tmp/usn_walk.XXXXXX");
	snprintf(t->out, sizeof t->out, "/tmp/usn_walk_out.XXXXXX");
	if (!mkdtemp(t->root) || !mkdtemp(t->out))
		return -1;
	mkfile(t->root, "index.html", "home");
	mkfile(t->root, "a/b.txt", "bee");
	mkfile(t->root, "a/c/d.css", "dee!");
	mkfile(t->root, ".env", "secret");
	mkfile(t->root, ".git/config", "cfg");
	mkfile(t->root, "a/.hidden", "h");
	mkfile(t->root, "a/not.dot.txt", "ok");
	mkfile(t->out, "outside.txt", "out");
	char target[128];
	snprintf(target, sizeof target, "%s/outside.txt", t->out);
	mklink(t->root, "escape.txt", target);   /* out of the root */
	mklink(t->root, "a/in.txt", "../index.html"); /* inside: a file */
	mklink(t->root, "dirlink", "a");           /* a directory: never followed */
	mklink(t->root, "dangling", "nowhere");
	char fifo[128];
	snprintf(fifo, sizeof fifo, "%s/a/fifo", t->root);
	assert_int_equal(mkfifo(fifo, 0600), 0); /* neither file nor skip */
	*state = t;
	return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int tree_teardown(void **state)
{
	struct tree *t = *state;
	nftw(t->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	nftw(t->out, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
	return 0;
}

/* The page store's walk: dotfiles skipped, symlinks to files inside the
 * root followed, nothing unreadable fatal; every skip reported. */
static void test_walk_store_options(void **state)
{
	struct tree *t = *state;
	struct seen s = {.stop_at = -1};
	struct walk_opts o = {.max_depth = 64, .path_max = 1023, .symlinks = true, .file_fn = file_fn, .skip_fn = skip_fn,
			      .arg = &s};
	char msg[256];
	assert_int_equal(walk_tree(t->root, &o, msg, sizeof msg), 0);
	assert_string_equal(files_of(&s), "/a/b.txt /a/c/d.css /a/in.txt /a/not.dot.txt /index.html");
	assert_int_equal(kind_of(&s, "/.env"), WALK_SKIP_DOT);
	assert_int_equal(kind_of(&s, "/.git"), WALK_SKIP_DOT); /* the directory whole */
	assert_int_equal(kind_of(&s, "/.git/config"), -1);
	assert_int_equal(kind_of(&s, "/a/.hidden"), WALK_SKIP_DOT);
	assert_int_equal(kind_of(&s, "/escape.txt"), WALK_SKIP_LINK);
	assert_int_equal(kind_of(&s, "/dangling"), WALK_SKIP_LINK);
	assert_int_equal(kind_of(&s, "/dirlink"), WALK_SKIP_NOT_FILE);
	assert_int_equal(kind_of(&s, "/a/fifo"), -1);
	assert_int_equal(s.n_skips, 6);
	/* dotfiles on: all of them, .git/ entered */
	memset(&s, 0, sizeof s);
	s.stop_at = -1;
	o.dotfiles = true;
	assert_int_equal(walk_tree(t->root, &o, msg, sizeof msg), 0);
	assert_string_equal(files_of(&s),
			    "/.env /.git/config /a/.hidden /a/b.txt /a/c/d.css /a/in.txt /a/not.dot.txt /index.html");
}

/* usn_load's corpus walk: no symlink at all, no dotfile, strict. */
static void test_walk_corpus_options(void **state)
{
	struct tree *t = *state;
	struct seen s = {.stop_at = -1};
	struct walk_opts o = {.max_depth = 16, .path_max = WALK_PATH_MAX, .strict = true, .file_fn = file_fn,
			      .skip_fn = skip_fn, .arg = &s};
	char msg[256];
	assert_int_equal(walk_tree(t->root, &o, msg, sizeof msg), 0);
	/* the sizes come with the files */
	int found = 0;
	for (int i = 0; i < s.n_files; i++)
		if (strcmp(s.files[i], "/a/c/d.css") == 0) {
			assert_int_equal(s.sizes[i], 4);
			found++;
		}
	assert_int_equal(found, 1);
	assert_string_equal(files_of(&s), "/a/b.txt /a/c/d.css /a/not.dot.txt /index.html");
	assert_int_equal(kind_of(&s, "/a/in.txt"), WALK_SKIP_LINK);
	assert_int_equal(kind_of(&s, "/dirlink"), WALK_SKIP_LINK);
}

/* max_depth: directories that many levels down are entered, no deeper. */
static void test_walk_depth(void **state)
{
	struct tree *t = *state;
	mkfile(t->root, "a/c/e/f/deep.txt", "x");
	struct seen s = {.stop_at = -1};
	struct walk_opts o = {.max_depth = 2, .path_max = 1023, .file_fn = file_fn, .skip_fn = skip_fn, .arg = &s};
	char msg[256];
	assert_int_equal(walk_tree(t->root, &o, msg, sizeof msg), 0);
	assert_string_equal(files_of(&s), "/a/b.txt /a/c/d.css /a/not.dot.txt /index.html");
	assert_int_equal(kind_of(&s, "/a/c/e"), WALK_SKIP_DEEP);
	memset(&s, 0, sizeof s);
	s.stop_at = -1;
	o.max_depth = 4;
	assert_int_equal(walk_tree(t->root, &o, msg, sizeof msg), 0);
	assert_string_equal(files_of(&s), "/a/b.txt /a/c/d.css /a/c/e/f/deep.txt /a/not.dot.txt /index.html");
	memset(&s, 0, sizeof s);
	s.stop_at = -1;
	o.max_depth = 0; /* the root's own files only */
	assert_int_equal(walk_tree(t->root, &o, msg, sizeof msg), 0);
	assert_string_equal(files_of(&s), "/index.html");
	assert_int_equal(kind_of(&s, "/a"), WALK_SKIP_DEEP);
}

/* A path longer than path_max: skipped by name, or the end of a strict
 * walk, with one line naming where. */
static void test_walk_path_max(void **state)
{
	struct tree *t = *state;
	struct seen s = {.stop_at = -1};
	/* a path takes its length and one more (room for a '/'): "/index.html"
	 * (11) fits in 12, "/a/not.dot.txt" (14) does not */
	struct walk_opts o = {.max_depth = 8, .path_max = 12, .file_fn = file_fn, .skip_fn = skip_fn, .arg = &s};
	char msg[256];
	assert_int_equal(walk_tree(t->root, &o, msg, sizeof msg), 0);
	assert_string_equal(files_of(&s), "/a/b.txt /a/c/d.css /index.html");
	assert_int_equal(kind_of(&s, "not.dot.txt"), WALK_SKIP_LONG);
	assert_int_equal(s.n_skips, 8); /* and 3 dotfiles, 4 symlinks */
	memset(&s, 0, sizeof s);
	s.stop_at = -1;
	o.strict = true;
	assert_int_equal(walk_tree(t->root, &o, msg, sizeof msg), -ENAMETOOLONG);
	assert_non_null(strstr(msg, t->root));
	assert_non_null(strstr(msg, strerror(ENAMETOOLONG)));
	assert_null(strchr(msg, '\n'));
}

/* The callback's error stops the walk, named by the file's path. */
static void test_walk_callback_error(void **state)
{
	struct tree *t = *state;
	struct seen s = {.stop_at = 1};
	struct walk_opts o = {.max_depth = 8, .path_max = 1023, .strict = true, .file_fn = file_fn, .arg = &s};
	char msg[256];
	assert_int_equal(walk_tree(t->root, &o, msg, sizeof msg), -EIO);
	assert_int_equal(s.n_files, 1); /* nothing after the failure */
	assert_true(strncmp(msg, t->root, strlen(t->root)) == 0);
	assert_non_null(strstr(msg, strerror(EIO)));
	assert_null(strchr(msg, '\n'));
}

/* A root that is missing or not a directory, and options that cannot
 * work, are one-line errors. */
static void test_walk_bad_root(void **state)
{
	(void)state;
	struct seen s = {.stop_at = -1};
	struct walk_opts o = {.max_depth = 8, .path_max = 1023, .file_fn = file_fn, .arg = &s};
	char msg[256];
	assert_int_equal(walk_tree("/nonexistent/usn_walk_root", &o, msg, sizeof msg), -ENOENT);
	assert_non_null(strstr(msg, "/nonexistent/usn_walk_root"));
	assert_null(strchr(msg, '\n'));
	assert_int_equal(walk_tree("/etc/hostname", &o, msg, sizeof msg), -ENOTDIR);
	assert_non_null(strstr(msg, "/etc/hostname"));
	o.file_fn = NULL;
	assert_int_equal(walk_tree("/tmp", &o, msg, sizeof msg), -EINVAL);
	assert_int_equal(walk_tree("/tmp", NULL, msg, sizeof msg), -EINVAL);
	assert_int_equal(s.n_files, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_walk_store_options, tree_setup, tree_teardown),
	    cmocka_unit_test_setup_teardown(test_walk_corpus_options, tree_setup, tree_teardown),
	    cmocka_unit_test_setup_teardown(test_walk_depth, tree_setup, tree_teardown),
	    cmocka_unit_test_setup_teardown(test_walk_path_max, tree_setup, tree_teardown),
	    cmocka_unit_test_setup_teardown(test_walk_callback_error, tree_setup, tree_teardown),
	    cmocka_unit_test(test_walk_bad_root),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
