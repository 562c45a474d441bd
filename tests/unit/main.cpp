#define BOOST_TEST_MODULE p2p_unit_tests
#include <boost/test/unit_test.hpp>
