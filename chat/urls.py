from django.urls import path

from chat import views

urlpatterns = [
    path("<str:widget_id>/config", views.widget_config, name="widget_config"),
    path("<str:widget_id>/conversations", views.start_conversation, name="start_conversation"),
    path("<str:widget_id>/uploads", views.widget_uploads, name="widget_uploads"),
    path("<str:widget_id>/uploads/<uuid:upload_id>", views.widget_uploads),
    path("<str:widget_id>/uploads/<uuid:upload_id>/<str:action>", views.widget_uploads),
    path("<str:widget_id>/uploads/<uuid:upload_id>/parts/<int:index>", views.widget_uploads),
]
