#define BOOST_TEST_MODULE p2p_process_tests
#include <boost/test/unit_test.hpp>
