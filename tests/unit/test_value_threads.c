/* Values shared between threads (the dataset pipeline's workers read config-derived dicts
 * and take references to them): reference counting must not lose updates. */
#include <omp.h>

#include "test.h"
#include "value/value.h"

TEST(concurrent_ref_unref_keeps_the_count) {
    val *shared = val_str("shared");
    const int per_thread = 2000000;
#pragma omp parallel num_threads(4)
    {
#pragma omp barrier
        for (int i = 0; i < per_thread; i++) {
            val_ref(shared);
            val_unref(shared);
        }
    }
    CHECK_EQ_INT(shared->refs, 1);
    val_unref(shared);
}

TEST_MAIN()
