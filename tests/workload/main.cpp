#define BOOST_TEST_MODULE p2p_workload_tests
#include <boost/test/unit_test.hpp>
