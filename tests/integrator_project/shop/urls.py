from django.urls import include, path

from shop.views import OrderList

urlpatterns = [
    path("api/orders/", OrderList.as_view()),
    path("api/sso/", include("sso_api.urls")),
]
