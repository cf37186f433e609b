#include "test.h"
#include "value/value.h"

TEST(dict_keeps_insertion_order_and_replaces_in_place) {
    val *d = val_dict();
    val_dict_set(d, "b", val_int(1));
    val_dict_set(d, "a", val_int(2));
    val_dict_set(d, "b", val_int(3));
    CHECK_EQ_INT(val_dict_len(d), 2);
    CHECK_EQ_STR(val_dict_entry(d, 0)->key->u.str.s, "b");
    CHECK_EQ_INT(val_dict_get(d, "b")->u.i, 3);
    CHECK(val_dict_get(d, "zz") == NULL);
    val_unref(d);
}

TEST(dict_index_survives_growth_and_delete) {
    val *d = val_dict();
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        val_dict_set(d, key, val_int(i));
    }
    CHECK(val_dict_del(d, "k500"));
    CHECK(!val_dict_del(d, "k500"));
    int ok = 1;
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        val *v = val_dict_get(d, key);
        if (i == 500) ok &= v == NULL;
        else ok &= v && v->u.i == i;
    }
    CHECK(ok);
    CHECK_EQ_STR(val_dict_entry(d, 500)->key->u.str.s, "k501");
    val_unref(d);
}

TEST(python_equality) {
    val *one = val_int(1), *onef = val_float(1.0), *nan = val_float(NAN);
    CHECK(val_equal(one, onef));
    CHECK(val_equal(val_bool(true), one));
    CHECK(!val_equal(nan, nan));
    val *a = val_dict(), *b = val_dict();
    val_dict_set(a, "x", val_int(1));
    val_dict_set(a, "y", val_str("s"));
    val_dict_set(b, "y", val_str("s"));
    val_dict_set(b, "x", val_float(1.0));
    CHECK(val_equal(a, b));
    val *c = val_copy(a);
    CHECK(val_equal(a, c));
    val_dict_set(c, "z", val_null());
    CHECK(!val_equal(a, c));
    val_unref(one); val_unref(onef); val_unref(nan);
    val_unref(a); val_unref(b); val_unref(c);
}

TEST(strings_hold_nul_bytes) {
    val *s = val_strn("a\0b", 3);
    CHECK_EQ_INT(s->u.str.n, 3);
    CHECK(s->u.str.s[1] == '\0' && s->u.str.s[2] == 'b' && s->u.str.s[3] == '\0');
    val *l = val_list();
    val_list_push(l, val_ref(s));
    val_unref(s);
    CHECK(val_list_get(l, 0)->u.str.n == 3);
    val_unref(l);
}

TEST_MAIN()
