#include "data/ds_set.h"
#include "test.h"

TEST(add_append_trained) {
    ds_set a = {0}, b = {0};
    int32_t ids[5] = {1, 2, 3, 4, 5}, lab[5] = {-100, -100, 3, 4, -100};
    for (int i = 0; i < 300; i++) ds_set_add(&a, ids, lab, (uint32_t)(1 + i % 5), (uint32_t)(i % 2), (uint64_t)i + 1);
    CHECK_EQ_INT(a.n, 300);
    CHECK_EQ_INT(ds_set_trained(&a, 3), 2);  /* len 4: labels -100,-100,3,4 */
    CHECK_EQ_INT(ds_set_trained(&a, 1), 0);  /* len 2 */
    ds_set_add(&b, ids, lab, 5, 7, 42);
    ds_set_append(&b, &a);
    CHECK_EQ_INT(b.n, 301);
    CHECK_EQ_INT(b.ntok, a.ntok + 5);
    CHECK_EQ_INT(b.dataset[0], 7);
    CHECK_EQ_INT(b.row[300], 300);
    CHECK_EQ_INT(ds_set_ids(&b, 300)[4], 5);
    CHECK_EQ_INT(b.len[300], 5);
    ds_set_free(&a);
    ds_set_free(&b);
    CHECK(a.n == 0 && a.ids == NULL);
}

TEST_MAIN()
